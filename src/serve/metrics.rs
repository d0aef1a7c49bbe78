//! The server's Prometheus metrics (OpenMetrics text, served at `GET /metrics`).

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of `sonovec_http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route pattern (`/v1/tracks/{id}`), never the raw path: ids would explode the series.
    pub route: String,
    pub status: u16,
}

/// Every metric, registered once; clones of the handles share their values.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub analysis_seconds: Histogram,
    pub queue_depth: Gauge,
    pub in_flight: Gauge,
    pub tracks_stored: Gauge,
    pub failures_stored: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("sonovec");
        let requests = Family::<RequestLabels, Counter>::default();
        // 50 ms … ~7 min: a short clip to an hour-long mix.
        let analysis_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 14));
        let queue_depth = Gauge::default();
        let in_flight = Gauge::default();
        let tracks_stored = Gauge::default();
        let failures_stored = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        registry.register(
            "analysis_seconds",
            "Wall-clock seconds of one upload's analysis (decode to vector)",
            analysis_seconds.clone(),
        );
        registry.register(
            "queue_depth",
            "Uploads waiting for an analysis worker",
            queue_depth.clone(),
        );
        registry.register(
            "uploads_in_flight",
            "Uploads accepted and not yet answered (spooling, queued or analysing)",
            in_flight.clone(),
        );
        registry.register(
            "tracks_stored",
            "Tracks in the catalog (all writers), counted at scrape time",
            tracks_stored.clone(),
        );
        registry.register(
            "failures_stored",
            "Failed inputs recorded in the catalog, counted at scrape time",
            failures_stored.clone(),
        );
        Metrics {
            registry,
            requests,
            analysis_seconds,
            queue_depth,
            in_flight,
            tracks_stored,
            failures_stored,
        }
    }

    /// Counts one answered request.
    pub fn count_request(&self, method: &str, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
