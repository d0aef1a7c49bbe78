//! `POST /v1/tracks`: admission, spooling, the analysis queue and the answer (status codes in
//! `routes` and README).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{oneshot, OwnedSemaphorePermit};

use super::pool::{Job, Outcome, Ticket};
use super::routes::{lookup, problem};
use super::spool::{extension_hint, is_audio_content_type, Spool, SpoolError, Spooled};
use super::App;
use crate::error::ErrorKind;

/// Seconds a client told `503` should wait before retrying.
const RETRY_AFTER_S: u32 = 2;
/// Longest external id, in bytes (it becomes the record's `path`).
const MAX_ID_BYTES: usize = 1024;

#[derive(Deserialize)]
pub(super) struct UploadQuery {
    /// The client's own id for the track; stored as the record's `path`.
    id: Option<String>,
    /// The original file name (only its extension is used, as a format hint).
    name: Option<String>,
}

/// `POST /v1/tracks`: spool, analyse, store, answer with the record.
pub(super) async fn upload(
    State(app): State<Arc<App>>,
    Query(query): Query<UploadQuery>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    if let Some(refusal) = refuse_unauthorised(&app, &headers) {
        return refusal;
    }
    let limit = app.config.max_upload_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return too_large(limit);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let multipart = content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data");
    if !multipart && !is_audio_content_type(&content_type) {
        return problem(
            StatusCode::BAD_REQUEST,
            "content_type",
            format!("content type {content_type:?} is not audio: send audio/*, application/octet-stream or multipart/form-data"),
        );
    }
    // Admission before reading the body: a full server costs the client one round trip.
    let Ok(permit) = Arc::clone(&app.admission).try_acquire_owned() else {
        return busy();
    };
    app.metrics.in_flight.inc();
    let response = receive(&app, query, &content_type, multipart, request, permit).await;
    app.metrics.in_flight.dec();
    response
}

async fn receive(
    app: &Arc<App>,
    query: UploadQuery,
    content_type: &str,
    multipart: bool,
    request: Request,
    permit: OwnedSemaphorePermit,
) -> Response {
    let spooled = if multipart {
        spool_multipart(app, request).await
    } else {
        let ext = extension_hint(query.name.as_deref(), Some(content_type));
        spool_body(app, ext.as_deref(), request.into_body())
            .await
            .map(|s| (s, None))
    };
    let (spooled, form_id) = match spooled {
        Ok(s) => s,
        Err(response) => return response,
    };
    if spooled.len == 0 {
        return problem(
            StatusCode::BAD_REQUEST,
            "empty",
            "the upload is empty (0 bytes)",
        );
    }
    let external = form_id.or(query.id).filter(|id| !id.is_empty());
    if external.as_ref().is_some_and(|id| id.len() > MAX_ID_BYTES) {
        return problem(
            StatusCode::BAD_REQUEST,
            "id",
            format!("the id is over {MAX_ID_BYTES} bytes"),
        );
    }
    let label = external.unwrap_or_else(|| format!("upload:{}", spooled.id));
    analyse(app, spooled, label, permit).await
}

async fn spool_body(app: &App, ext: Option<&str>, body: Body) -> Result<Spooled, Response> {
    use futures_util::StreamExt;
    let mut spool = Spool::create(&app.config.spool_dir, ext, app.config.max_upload_bytes)
        .map_err(|e| spool_failure(e, app))?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| spool_failure(SpoolError::Client(e.to_string()), app))?;
        spool
            .push(&chunk)
            .await
            .map_err(|e| spool_failure(e, app))?;
    }
    spool.finish().await.map_err(|e| spool_failure(e, app))
}

/// Reads a `multipart/form-data` upload: the audio in the field `file` (or the first field with
/// a file name), the external id in an optional text field `id`.
async fn spool_multipart(
    app: &Arc<App>,
    request: Request,
) -> Result<(Spooled, Option<String>), Response> {
    let bad = |message: String| problem(StatusCode::BAD_REQUEST, "multipart", message);
    let mut form = Multipart::from_request(request, app)
        .await
        .map_err(|e| bad(e.body_text()))?;
    let (mut spooled, mut id) = (None, None);
    while let Some(mut field) = form.next_field().await.map_err(|e| bad(e.body_text()))? {
        let name = field.name().unwrap_or("").to_string();
        if name == "id" {
            // Read in chunks with a cap: a form field must not be a way around the spool.
            let mut text = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| bad(e.body_text()))? {
                text.extend_from_slice(&chunk);
                if text.len() > MAX_ID_BYTES {
                    return Err(bad(format!("the id field is over {MAX_ID_BYTES} bytes")));
                }
            }
            id = Some(String::from_utf8(text).map_err(|_| bad("the id is not UTF-8".into()))?);
        } else if spooled.is_none() && (name == "file" || field.file_name().is_some()) {
            let ext = extension_hint(field.file_name(), field.content_type());
            let mut spool = Spool::create(
                &app.config.spool_dir,
                ext.as_deref(),
                app.config.max_upload_bytes,
            )
            .map_err(|e| spool_failure(e, app))?;
            while let Some(chunk) = field.chunk().await.map_err(|e| bad(e.body_text()))? {
                spool
                    .push(&chunk)
                    .await
                    .map_err(|e| spool_failure(e, app))?;
            }
            spooled = Some(spool.finish().await.map_err(|e| spool_failure(e, app))?);
        }
    }
    match spooled {
        Some(s) => Ok((s, id)),
        None => Err(bad(
            "no file field in the form (send the audio as `file`)".into()
        )),
    }
}

fn spool_failure(error: SpoolError, app: &App) -> Response {
    match error {
        SpoolError::TooLarge => too_large(app.config.max_upload_bytes),
        SpoolError::Client(message) => problem(StatusCode::BAD_REQUEST, "body", message),
        SpoolError::Io(e) => {
            eprintln!("sonovec: spool: {e}");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "spool",
                "the upload could not be spooled",
            )
        }
    }
}

fn too_large(limit: u64) -> Response {
    let mut response = problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the upload is larger than the limit of {limit} bytes"),
    );
    // The unread rest of the body makes the connection unusable.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn busy() -> Response {
    let mut response = problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "every analysis worker is busy and the queue is full; retry later",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
    response
}

/// Answers from the catalog if the content is already there, else queues the analysis, which
/// holds the upload's admission `permit` until it ends, even after its request timed out.
async fn analyse(
    app: &Arc<App>,
    spooled: Spooled,
    label: String,
    permit: OwnedSemaphorePermit,
) -> Response {
    let id = spooled.id.clone();
    // Known content is answered only if it has vectors of this server's kind (same model and
    // weights); otherwise it is analysed again, and its row of this version stored beside the
    // others.
    match lookup(app, id.clone(), app.vector_version.clone()).await {
        Ok(Some(record)) => return (StatusCode::OK, Json(record)).into_response(),
        Ok(None) => {}
        Err(response) => return response,
    }
    let (reply, answer) = oneshot::channel();
    let ticket = Arc::new(Ticket::default());
    let timeout = app.config.analysis_timeout;
    let job = Job {
        file: spooled.path,
        id,
        label,
        ticket: Arc::clone(&ticket),
        admission: Some(permit),
        reply,
        timeout_s: timeout.as_secs_f64(),
    };
    if app.pool.submit(job, &app.metrics).is_err() {
        return busy();
    }
    let mut answer = answer;
    let outcome = match tokio::time::timeout(timeout, &mut answer).await {
        Ok(outcome) => outcome,
        Err(_) if ticket.abandon() => return timed_out(timeout),
        // The worker claimed the result just in time: its answer is moments away.
        Err(_) => answer.await,
    };
    match outcome {
        Ok(Outcome::Stored { record, created }) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let location = record.id.as_deref().map(|id| format!("/v1/tracks/{id}"));
            let mut response = (status, Json(record)).into_response();
            if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        Ok(Outcome::Failed(record)) => {
            let status = match record.error.as_ref().map(|e| e.kind) {
                Some(ErrorKind::Io) | Some(ErrorKind::Internal) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            (status, Json(record)).into_response()
        }
        Ok(Outcome::StoreError(message)) => {
            eprintln!("sonovec: catalog: {message}");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "catalog",
                "the catalog could not be written",
            )
        }
        Err(_) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the analysis worker went away",
        ),
    }
}

fn timed_out(timeout: Duration) -> Response {
    let body = json!({ "error": { "kind": "too_long", "message": format!(
        "the analysis took longer than the server's limit of {} s", timeout.as_secs_f64()) } });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// Writes need `Authorization: Bearer TOKEN` when the server has a token: the `401` answer
/// when it is missing or wrong, else `None`.
fn refuse_unauthorised(app: &App, headers: &HeaderMap) -> Option<Response> {
    let token = app.config.token.as_ref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        None
    } else {
        let mut response = problem(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this server needs `Authorization: Bearer TOKEN` on uploads",
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        Some(response)
    }
}

/// Compares without an early exit, so the time taken does not leak how much of a guess matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
