//! The HTTP endpoints. Status codes (README, "sonovec serve"):
//! `201` stored, `200` already stored, `400` empty body / wrong content type / broken multipart,
//! `401` missing or wrong token, `404` unknown track, `413` over the size limit, `422` the audio
//! could not be analysed (body: the error record), `503` queue full (with `Retry-After`),
//! `500` only for the server's own faults (the catalog or the spool cannot be written).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, MatchedPath, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::oneshot;

use super::pool::{Job, Outcome, Ticket};
use super::spool::{extension_hint, is_audio_content_type, Spool, SpoolError, Spooled};
use super::App;
use crate::error::ErrorKind;
use crate::record::Record;
use crate::search::CosineIndex;

/// Seconds a client told `503` should wait before retrying.
const RETRY_AFTER_S: u32 = 2;
/// Most neighbours one `similar` request may ask for.
const MAX_K: usize = 1000;

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/tracks", post(upload))
        .route("/v1/tracks/{id}", get(track))
        .route("/v1/tracks/{id}/similar", get(similar))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        // Size limits are enforced while spooling (413), not by buffering extractors.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(Arc::clone(&app), count))
        .with_state(app)
}

/// A JSON error that is not an analysis record: `{"error": {"kind", "message"}}`.
fn problem(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    let body = json!({ "error": { "kind": kind, "message": message.into() } });
    (status, Json(body)).into_response()
}

async fn count(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(request).await;
    app.metrics
        .count_request(&method, &route, response.status().as_u16());
    response
}

#[derive(Deserialize)]
struct UploadQuery {
    /// The client's own id for the track; stored as the record's `path`.
    id: Option<String>,
    /// The original file name (only its extension is used, as a format hint).
    name: Option<String>,
}

/// `POST /v1/tracks`: spool, analyse, store, answer with the record.
async fn upload(
    State(app): State<Arc<App>>,
    Query(query): Query<UploadQuery>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    if let Err(response) = authorise(&app, &headers) {
        return response;
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
    let response = receive(&app, query, &content_type, multipart, request).await;
    app.metrics.in_flight.dec();
    drop(permit);
    response
}

async fn receive(
    app: &Arc<App>,
    query: UploadQuery,
    content_type: &str,
    multipart: bool,
    request: Request,
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
    let label = external.unwrap_or_else(|| format!("upload:{}", spooled.id));
    analyse(app, spooled, label).await
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
            let text = field.text().await.map_err(|e| bad(e.body_text()))?;
            id = Some(text.chars().take(1024).collect());
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

/// Answers from the catalog if the content is already there, else queues the analysis.
async fn analyse(app: &Arc<App>, spooled: Spooled, label: String) -> Response {
    let id = spooled.id.clone();
    match lookup(app, id.clone()).await {
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

/// The stored record of a content id or an external id, read off the async threads.
async fn lookup(app: &Arc<App>, key: String) -> Result<Option<Record>, Response> {
    let catalog = Arc::clone(&app.catalog);
    let found = tokio::task::spawn_blocking(move || {
        let catalog = catalog.lock().unwrap_or_else(|p| p.into_inner());
        match catalog.record(&key)? {
            Some(record) => Ok(Some(record)),
            None => match catalog.id_of_path(&key)? {
                Some(id) => catalog.record(&id),
                None => Ok(None),
            },
        }
    })
    .await;
    match found {
        Ok(Ok(record)) => Ok(record),
        Ok(Err(e)) => Err(catalog_error(e)),
        Err(e) => Err(catalog_error(std::io::Error::other(e))),
    }
}

fn catalog_error(e: std::io::Error) -> Response {
    eprintln!("sonovec: catalog: {e}");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "catalog",
        "the catalog could not be read",
    )
}

fn not_found(id: &str) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no track {id:?} in the catalog"),
    )
}

/// `GET /v1/tracks/{id}`: by content id, or by the external id given at upload.
async fn track(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match lookup(&app, id.clone()).await {
        Ok(Some(record)) => Json(record).into_response(),
        Ok(None) => not_found(&id),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
struct SimilarQuery {
    k: Option<usize>,
}

#[derive(Serialize)]
struct Neighbour {
    rank: usize,
    id: String,
    path: String,
    /// Cosine similarity to the query, in [-1, 1].
    score: f32,
}

/// `GET /v1/tracks/{id}/similar?k=10`: the `k` catalogued tracks nearest by cosine (exact
/// search, the track itself left out), as `sonovec similar --json` prints them.
async fn similar(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(query): Query<SimilarQuery>,
) -> Response {
    let k = query.k.unwrap_or(10).min(MAX_K);
    let record = match lookup(&app, id.clone()).await {
        Ok(Some(record)) => record,
        Ok(None) => return not_found(&id),
        Err(response) => return response,
    };
    let (Some(vector), Some(version)) = (record.vector.clone(), record.vector_version.clone())
    else {
        return problem(
            StatusCode::NOT_FOUND,
            "no_vector",
            "the track has no vector",
        );
    };
    let catalog = Arc::clone(&app.catalog);
    let own = record.id.clone();
    let found = tokio::task::spawn_blocking(move || {
        let (table, _) = catalog
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .vectors(&version)?;
        let own_row = own.and_then(|own| table.ids.iter().position(|row| *row == own));
        if table.is_empty() || table.dim != vector.len() {
            return Ok((version, 0, Vec::new()));
        }
        let searched = table.len();
        let index = CosineIndex::new(table.dim, table.data);
        let hits = index.search(&vector, k, |row| Some(row) == own_row);
        let neighbours = hits
            .iter()
            .enumerate()
            .map(|(rank, hit)| Neighbour {
                rank: rank + 1,
                id: table.ids[hit.row].clone(),
                path: table.paths[hit.row].clone(),
                score: hit.score,
            })
            .collect::<Vec<_>>();
        Ok::<_, std::io::Error>((version, searched, neighbours))
    })
    .await;
    match found {
        Ok(Ok((version, searched, neighbours))) => Json(json!({
            "query_id": record.id,
            "query_path": record.path,
            "vector_version": version,
            "searched": searched,
            "neighbours": neighbours,
        }))
        .into_response(),
        Ok(Err(e)) => catalog_error(e),
        Err(e) => catalog_error(std::io::Error::other(e)),
    }
}

/// `GET /healthz`: 200 while the server accepts uploads.
async fn healthz(State(app): State<Arc<App>>) -> Response {
    Json(json!({
        "status": "ok",
        "version": crate::VERSION,
        "workers": app.config.workers,
        "queue_capacity": app.config.queue,
        "admission_free": app.admission.available_permits(),
    }))
    .into_response()
}

/// `GET /metrics`: Prometheus/OpenMetrics text.
async fn metrics(State(app): State<Arc<App>>) -> Response {
    let catalog = Arc::clone(&app.catalog);
    let counts = tokio::task::spawn_blocking(move || {
        catalog.lock().unwrap_or_else(|p| p.into_inner()).counts()
    })
    .await;
    if let Ok(Ok((tracks, failures))) = counts {
        app.metrics.tracks_stored.set(tracks as i64);
        app.metrics.failures_stored.set(failures as i64);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

/// Writes need `Authorization: Bearer TOKEN` when the server has a token.
fn authorise(app: &App, headers: &HeaderMap) -> Result<(), Response> {
    let Some(token) = &app.config.token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        let mut response = problem(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this server needs `Authorization: Bearer TOKEN` on uploads",
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        Err(response)
    }
}

/// Compares without an early exit, so the time taken does not leak how much of a guess matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
