//! `GET /metrics` (Prometheus text format 0.0.4): requests by route and status, a latency
//! histogram by route, requests in flight, and the commits the server's requests made.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;

use super::error::ApiError;
use super::AppState;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5, 10.0,
];

/// One route's latency histogram.
#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Requests at or under each bound (not cumulative here; summed when printed).
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

/// The counters. One mutex, held for a few map updates per request (never across an await).
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
    in_flight: AtomicI64,
    commits: AtomicU64,
}

#[derive(Debug, Default)]
struct Counters {
    /// (method, route, status) → requests.
    requests: BTreeMap<(String, String, u16), u64>,
    /// route → latency.
    latency: BTreeMap<String, Histogram>,
}

impl Metrics {
    /// Counts `n` committed transactions.
    pub fn add_commits(&self, n: u64) {
        self.commits.fetch_add(n, Ordering::Relaxed);
    }

    /// The transactions committed so far (the live viewer rebuilds its index past them).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut c = self.inner.lock();
        *c.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let h = c.latency.entry(route.to_string()).or_default();
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            h.counts[i] += 1;
        }
        h.count += 1;
        h.sum_seconds += seconds;
    }

    /// The Prometheus text.
    pub fn render(&self) -> String {
        let c = self.inner.lock();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP tensormap_http_requests_total HTTP requests answered, by method, route and status.\n\
             # TYPE tensormap_http_requests_total counter"
        );
        for ((method, route, status), n) in &c.requests {
            let _ = writeln!(
                out,
                "tensormap_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP tensormap_http_request_duration_seconds Time from a request's arrival to its answer.\n\
             # TYPE tensormap_http_request_duration_seconds histogram"
        );
        for (route, h) in &c.latency {
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "tensormap_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "tensormap_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 tensormap_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 tensormap_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count, h.sum_seconds, h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP tensormap_http_requests_in_flight Requests being answered now.\n\
             # TYPE tensormap_http_requests_in_flight gauge\n\
             tensormap_http_requests_in_flight {}\n\
             # HELP tensormap_commits_total Transactions committed by the server's requests.\n\
             # TYPE tensormap_commits_total counter\n\
             tensormap_commits_total {}",
            self.in_flight.load(Ordering::Relaxed),
            self.commits.load(Ordering::Relaxed)
        );
        out
    }
}

/// The middleware that counts and times every request (routes by their pattern; a request
/// no route matched counts as `unmatched`, so a scan of random paths cannot grow the map).
pub async fn record(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let method = req.method().as_str().to_string();
    s.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let response = next.run(req).await;
    s.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
    // A failure of the server is logged with its message (the client gets it too).
    if response.status().is_server_error() {
        if let Some(e) = response.extensions().get::<ApiError>() {
            (s.log)(&format!(
                "{method} {route}: {} {}",
                e.status.as_u16(),
                e.message
            ));
        }
    }
    let method = match method.as_str() {
        "GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "OPTIONS" | "PATCH" => method,
        _ => "other".to_string(),
    };
    s.metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}
