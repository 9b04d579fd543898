//! Prometheus metrics at `/metrics`, in the text exposition format, written by hand.
//!
//! The set is small and fixed (requests by route, method and status; latency by route;
//! the view's sizes; the writer's batches), so a few atomics and one map behind a mutex do
//! the job without a metrics crate and its registry, encoders and derive macros. Route
//! labels are the routes' templates (`/api/v1/registry/{id}`), never raw paths, so a
//! client cannot grow the label set.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::Registry;
use crate::store::Collection;

/// Latency buckets in seconds, tuned around the 10 ms p99 target.
const BUCKETS: [f64; 12] = [
    0.000_25, 0.0005, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Http {
    requests: BTreeMap<(&'static str, &'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
}

/// Request counters; the rest is read from the registry at scrape time.
#[derive(Default)]
pub struct Metrics {
    http: Mutex<Http>,
}

fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

impl Metrics {
    fn observe(&self, route: &'static str, method: &'static str, status: u16, seconds: f64) {
        let mut http = self
            .http
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *http.requests.entry((route, method, status)).or_default() += 1;
        let h = http.latency.entry(route).or_default();
        h.count += 1;
        h.sum += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
    }

    /// The exposition text.
    #[allow(clippy::too_many_lines)]
    pub fn render(&self, registry: &Registry) -> String {
        let mut out = String::with_capacity(4096);
        {
            let http = self
                .http
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            out.push_str("# HELP registry_http_requests_total HTTP requests answered, by route template, method and status.\n");
            out.push_str("# TYPE registry_http_requests_total counter\n");
            for ((route, method, status), n) in &http.requests {
                let _ = writeln!(
                    out,
                    "registry_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                );
            }
            out.push_str("# HELP registry_http_request_duration_seconds Time to the response head, by route template.\n");
            out.push_str("# TYPE registry_http_request_duration_seconds histogram\n");
            for (route, h) in &http.latency {
                for (bound, n) in BUCKETS.iter().zip(h.counts) {
                    let _ = writeln!(
                        out,
                        "registry_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                    );
                }
                let _ = writeln!(
                    out,
                    "registry_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "registry_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "registry_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count
                );
            }
        }
        let counts = registry.counts();
        let stats = registry.stats();
        let mut gauge = |name: &str, help: &str, value: u64| {
            single(&mut out, "gauge", name, help, value);
        };
        gauge(
            "registry_registrations",
            "Registrations held, stale ones included.",
            counts.registrations as u64,
        );
        gauge(
            "registry_registrations_stale",
            "Registrations past their TTL, not yet evicted.",
            counts.stale as u64,
        );
        gauge(
            "registry_products",
            "Data products in the catalog.",
            counts.products as u64,
        );
        gauge(
            "registry_change_index",
            "The registry's change index.",
            registry.index(Collection::Registry),
        );
        gauge(
            "registry_products_change_index",
            "The catalog's change index.",
            registry.index(Collection::Products),
        );
        if let Some(rss) = resident_bytes() {
            gauge(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                rss,
            );
        }
        let mut counter = |name: &str, help: &str, value: u64| {
            single(&mut out, "counter", name, help, value);
        };
        counter(
            "registry_write_batches_total",
            "Transactions committed by the writer.",
            stats.batches.load(Ordering::Relaxed),
        );
        counter(
            "registry_writes_total",
            "Writes committed (a batch holds many).",
            stats.writes.load(Ordering::Relaxed),
        );
        counter(
            "registry_write_failed_batches_total",
            "Transactions that failed and were retried write by write.",
            stats.failed_batches.load(Ordering::Relaxed),
        );
        counter(
            "registry_evictions_total",
            "Registrations evicted after TTL and grace.",
            stats.evictions.load(Ordering::Relaxed),
        );
        let micros = stats.commit_micros.load(Ordering::Relaxed);
        single(
            &mut out,
            "counter",
            "registry_write_batch_seconds_total",
            "Time spent applying and committing batches.",
            micros as f64 / 1e6,
        );
        out
    }
}

/// One metric with a single value, in the Prometheus text format.
fn single(out: &mut String, kind: &str, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// The resident set size from /proc (Linux); absent elsewhere.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Middleware: counts every response by route template (`other` for unmatched paths).
pub async fn track(
    State(metrics): State<std::sync::Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| crate::api::route_label(p.as_str()))
        .unwrap_or("other");
    let response = next.run(req).await;
    metrics.observe(
        route,
        method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let m = Metrics::default();
        m.observe("/health", "GET", 200, 0.0003);
        m.observe("/health", "GET", 200, 0.2);
        m.observe("/health", "GET", 404, 20.0);
        let http = m.http.lock().unwrap();
        assert_eq!(http.requests[&("/health", "GET", 200)], 2);
        let h = &http.latency["/health"];
        assert_eq!(h.count, 3);
        assert_eq!(h.counts[0], 0);
        assert_eq!(h.counts[1], 1);
        assert_eq!(h.counts[BUCKETS.len() - 2], 2);
        assert_eq!(h.counts[BUCKETS.len() - 1], 2, "20 s is only in +Inf");
    }
}
