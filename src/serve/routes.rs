//! The HTTP endpoints. Status codes (README, "sonovec serve"):
//! `201` stored, `200` already stored, `400` empty body / wrong content type / broken multipart,
//! `401` missing or wrong token, `404` unknown track, `413` over the size limit, `422` the audio
//! could not be analysed (body: the error record), `503` queue full (with `Retry-After`),
//! `500` only for the server's own faults (the catalog or the spool cannot be written).
//!
//! Reads answer with the rows of the server's own `vector_version` (its model and weights);
//! `?vector_version=V` asks for another version's row of the same content.

use std::sync::Arc;

use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::App;
use crate::record::Record;
use crate::search::CosineIndex;

/// Most neighbours one `similar` request may ask for.
const MAX_K: usize = 1000;

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/tracks", post(super::upload::upload))
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
pub(super) fn problem(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
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

/// The stored record of `vector_version` of a content id or an external id, read off the async
/// threads.
pub(super) async fn lookup(
    app: &Arc<App>,
    key: String,
    vector_version: String,
) -> Result<Option<Record>, Response> {
    let catalog = Arc::clone(&app.catalog);
    let found = tokio::task::spawn_blocking(move || {
        let catalog = catalog.lock().unwrap_or_else(|p| p.into_inner());
        match catalog.record(&key, &vector_version)? {
            Some(record) => Ok(Some(record)),
            None => match catalog.id_of_path(&key)? {
                Some(id) => catalog.record(&id, &vector_version),
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

fn not_found(id: &str, vector_version: &str) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no track {id:?} with vector_version {vector_version:?} in the catalog"),
    )
}

/// Which version's row a read wants (`?vector_version=`, the server's own by default).
#[derive(Deserialize)]
struct VersionQuery {
    vector_version: Option<String>,
}

impl VersionQuery {
    fn or_server(self, app: &App) -> String {
        self.vector_version
            .unwrap_or_else(|| app.vector_version.clone())
    }
}

/// `GET /v1/tracks/{id}`: by content id, or by the external id given at upload.
async fn track(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Response {
    let version = query.or_server(&app);
    match lookup(&app, id.clone(), version.clone()).await {
        Ok(Some(record)) => Json(record).into_response(),
        Ok(None) => not_found(&id, &version),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
struct SimilarQuery {
    k: Option<usize>,
    vector_version: Option<String>,
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
/// search over the rows of one `vector_version`, the track itself left out), as
/// `sonovec similar --json` prints them.
async fn similar(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(query): Query<SimilarQuery>,
) -> Response {
    let k = query.k.unwrap_or(10).min(MAX_K);
    let wanted = VersionQuery {
        vector_version: query.vector_version,
    }
    .or_server(&app);
    let record = match lookup(&app, id.clone(), wanted.clone()).await {
        Ok(Some(record)) => record,
        Ok(None) => return not_found(&id, &wanted),
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
