//! Prometheus metrics at `/metrics`, in the text exposition format: reconciles, failures by
//! reason, and how long reconciles take. A fixed, small set, so a few counters behind one
//! mutex do the job without a metrics crate.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Reconcile durations in seconds: rendering a product takes milliseconds, applying its
/// children a few round trips.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Counts {
    reconciles: u64,
    failures: BTreeMap<&'static str, u64>,
    buckets: [u64; BUCKETS.len()],
    sum: f64,
}

#[derive(Default)]
pub struct Metrics(Mutex<Counts>);

impl Metrics {
    /// One reconcile, and how long it took.
    pub fn reconciled(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let mut counts = self.0.lock().expect("metrics lock");
        counts.reconciles += 1;
        counts.sum += seconds;
        for (bucket, bound) in counts.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
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
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP dappmesh_operator_reconciles_total Reconciles run."
        );
        let _ = writeln!(out, "# TYPE dappmesh_operator_reconciles_total counter");
        let _ = writeln!(
            out,
            "dappmesh_operator_reconciles_total {}",
            counts.reconciles
        );
        let _ = writeln!(
            out,
            "# HELP dappmesh_operator_reconcile_failures_total Reconciles that failed, by reason."
        );
        let _ = writeln!(
            out,
            "# TYPE dappmesh_operator_reconcile_failures_total counter"
        );
        for (reason, count) in &counts.failures {
            let _ = writeln!(
                out,
                "dappmesh_operator_reconcile_failures_total{{reason=\"{reason}\"}} {count}"
            );
        }
        let name = "dappmesh_operator_reconcile_duration_seconds";
        let _ = writeln!(out, "# HELP {name} How long reconciles take.");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (bound, count) in BUCKETS.iter().zip(counts.buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", counts.reconciles);
        let _ = writeln!(out, "{name}_sum {}", counts.sum);
        let _ = writeln!(out, "{name}_count {}", counts.reconciles);
        out
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
