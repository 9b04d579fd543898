//! Prometheus metrics at `/metrics`, in the text exposition format, written by hand.
//!
//! The set is small and fixed (requests by route, method and status; latency by route;
//! the view's sizes; the writer's batches), so a few atomics and one map behind a mutex do
//! the job, written out with [`dappmesh_service::prometheus`]. Route labels are the
//! routes' templates (`/api/v1/registry/{id}`), never raw paths, so a client cannot grow
//! the label set: the HTTP layer's middleware passes them in.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use dappmesh_service::prometheus::{Histogram, Kind, Text, resident_bytes};

use crate::state::{Registry, WriterStats};
use crate::store::Collection;

/// Latency buckets in seconds, tuned around the 10 ms p99 target.
const BUCKETS: [f64; 12] = [
    0.000_25, 0.0005, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 10.0,
];

/// What is known of one route template.
struct Route {
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: Histogram,
}

#[derive(Default)]
struct Http {
    routes: BTreeMap<String, Route>,
}

/// Request counters; the rest is read from the registry at scrape time.
#[derive(Default)]
pub struct Metrics {
    http: Mutex<Http>,
}

impl Metrics {
    /// One answered request: its route template (`other` when no route matched), method,
    /// status and time to the response head.
    pub fn observe(&self, route: &str, method: &'static str, status: u16, seconds: f64) {
        let mut http = self
            .http
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Allocates once per route template, not per request.
        if !http.routes.contains_key(route) {
            let fresh = Route {
                requests: BTreeMap::new(),
                latency: Histogram::new(&BUCKETS),
            };
            http.routes.insert(route.to_owned(), fresh);
        }
        if let Some(r) = http.routes.get_mut(route) {
            *r.requests.entry((method, status)).or_default() += 1;
            r.latency.observe(seconds);
        }
    }

    /// The exposition text.
    pub fn render(&self, registry: &Registry) -> String {
        let mut out = Text::with_capacity(4096);
        self.render_http(&mut out);
        let counts = registry.counts();
        let gauges = [
            (
                "registry_registrations",
                "Registrations held, stale ones included.",
                counts.registrations as u64,
            ),
            (
                "registry_registrations_stale",
                "Registrations past their TTL, not yet evicted.",
                counts.stale as u64,
            ),
            (
                "registry_products",
                "Data products in the catalog.",
                counts.products as u64,
            ),
            (
                "registry_change_index",
                "The registry's change index.",
                registry.index(Collection::Registry),
            ),
            (
                "registry_products_change_index",
                "The catalog's change index.",
                registry.index(Collection::Products),
            ),
        ];
        for (name, help, value) in gauges {
            out.single(name, Kind::Gauge, help, value);
        }
        if let Some(rss) = resident_bytes() {
            let help = "Resident memory size in bytes.";
            out.single("process_resident_memory_bytes", Kind::Gauge, help, rss);
        }
        render_writer(&mut out, registry.stats());
        out.finish()
    }

    fn render_http(&self, out: &mut Text) {
        let http = self
            .http
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let name = "registry_http_requests_total";
        let help = "HTTP requests answered, by route template, method and status.";
        out.family(name, Kind::Counter, help);
        for (route, r) in &http.routes {
            for ((method, status), n) in &r.requests {
                let status = status.to_string();
                let labels = [
                    ("route", route.as_str()),
                    ("method", method),
                    ("status", &status),
                ];
                out.sample(name, &labels, n);
            }
        }
        let name = "registry_http_request_duration_seconds";
        let help = "Time to the response head, by route template.";
        out.family(name, Kind::Histogram, help);
        for (route, r) in &http.routes {
            out.histogram(name, &[("route", route)], &r.latency);
        }
    }
}

fn render_writer(out: &mut Text, stats: &WriterStats) {
    let counters = [
        (
            "registry_write_batches_total",
            "Transactions committed by the writer.",
            &stats.batches,
        ),
        (
            "registry_writes_total",
            "Writes committed (a batch holds many).",
            &stats.writes,
        ),
        (
            "registry_write_failed_batches_total",
            "Transactions that failed and were retried write by write.",
            &stats.failed_batches,
        ),
        (
            "registry_evictions_total",
            "Registrations evicted after TTL and grace.",
            &stats.evictions,
        ),
    ];
    for (name, help, value) in counters {
        out.single(name, Kind::Counter, help, value.load(Ordering::Relaxed));
    }
    let micros = stats.commit_micros.load(Ordering::Relaxed);
    out.single(
        "registry_write_batch_seconds_total",
        Kind::Counter,
        "Time spent applying and committing batches.",
        micros as f64 / 1e6,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_method_and_status() {
        let m = Metrics::default();
        m.observe("/health", "GET", 200, 0.0003);
        m.observe("/health", "GET", 200, 0.2);
        m.observe("/health", "GET", 404, 20.0);
        let mut text = Text::default();
        m.render_http(&mut text);
        let text = text.finish();
        for line in [
            "registry_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} 2\n",
            "registry_http_requests_total{route=\"/health\",method=\"GET\",status=\"404\"} 1\n",
            "registry_http_request_duration_seconds_bucket{route=\"/health\",le=\"0.0005\"} 1\n",
            "registry_http_request_duration_seconds_bucket{route=\"/health\",le=\"10\"} 2\n",
            "registry_http_request_duration_seconds_bucket{route=\"/health\",le=\"+Inf\"} 3\n",
            "registry_http_request_duration_seconds_count{route=\"/health\"} 3\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
