//! Prometheus metrics at `/metrics`, in the text exposition format: reconciles, failures by
//! reason, and how long reconciles take. A fixed, small set, so a few counters behind one
//! mutex do the job, written out with [`dappmesh_service::prometheus`].

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use dappmesh_service::prometheus::{Histogram, Kind, Text};

/// Reconcile durations in seconds: rendering a product takes milliseconds, applying its
/// children a few round trips.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

struct Counts {
    failures: BTreeMap<&'static str, u64>,
    /// Every reconcile, so its count is the number of reconciles.
    durations: Histogram,
}

pub struct Metrics(Mutex<Counts>);

impl Default for Metrics {
    fn default() -> Self {
        Metrics(Mutex::new(Counts {
            failures: BTreeMap::new(),
            durations: Histogram::new(&BUCKETS),
        }))
    }
}

impl Metrics {
    /// One reconcile, and how long it took.
    pub fn reconciled(&self, took: Duration) {
        let mut counts = self.0.lock().expect("metrics lock");
        counts.durations.observe(took.as_secs_f64());
    }

    /// One failed reconcile, by the error's label.
    pub fn failed(&self, reason: &'static str) {
        *self
            .0
            .lock()
            .expect("metrics lock")
            .failures
            .entry(reason)
            .or_default() += 1;
    }

    pub fn render(&self) -> String {
        let counts = self.0.lock().expect("metrics lock");
        let mut out = Text::default();
        let reconciles = counts.durations.count();
        let name = "dappmesh_operator_reconciles_total";
        out.single(name, Kind::Counter, "Reconciles run.", reconciles);
        let name = "dappmesh_operator_reconcile_failures_total";
        out.family(name, Kind::Counter, "Reconciles that failed, by reason.");
        for (reason, count) in &counts.failures {
            out.sample(name, &[("reason", reason)], count);
        }
        let name = "dappmesh_operator_reconcile_duration_seconds";
        out.family(name, Kind::Histogram, "How long reconciles take.");
        out.histogram(name, &[], &counts.durations);
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets_add_up() {
        let metrics = Metrics::default();
        metrics.reconciled(Duration::from_millis(20));
        metrics.reconciled(Duration::from_secs(3));
        metrics.failed("kube");
        let text = metrics.render();
        assert!(
            text.contains("dappmesh_operator_reconciles_total 2\n"),
            "{text}"
        );
        assert!(
            text.contains("reconcile_failures_total{reason=\"kube\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("duration_seconds_bucket{le=\"0.025\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("duration_seconds_bucket{le=\"10\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("duration_seconds_bucket{le=\"+Inf\"} 2\n"),
            "{text}"
        );
    }
}
