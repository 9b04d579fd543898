//! The Prometheus text exposition format (0.0.4), written by hand, and the histogram the
//! services keep their latencies in.
//!
//! Each service exports a small fixed set of metrics, so a `String` and a few helpers do
//! the job of a metrics crate with its registry, encoders and derive macros. Label values
//! are escaped here; label sets must stay bounded by the caller (route templates, never
//! raw paths).

use std::fmt::{Display, Write as _};

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

/// The media type Prometheus expects for this format.
pub const MEDIA_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Observations counted into fixed buckets (each bucket counts the values at or below
/// its bound, so the counts are cumulative, as the format wants).
#[derive(Debug, Clone)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Box<[u64]>,
    count: u64,
    sum: f64,
}

impl Histogram {
    /// Bounds in ascending order; `+Inf` is implied.
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()].into_boxed_slice(),
            count: 0,
            sum: 0.0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        self.count += 1;
        self.sum += value;
        for (n, bound) in self.counts.iter_mut().zip(self.bounds) {
            if value <= *bound {
                *n += 1;
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

/// An exposition being written: metric families one after the other.
#[derive(Debug, Default)]
pub struct Text(String);

impl Text {
    pub fn with_capacity(bytes: usize) -> Self {
        Text(String::with_capacity(bytes))
    }

    /// The `# HELP` and `# TYPE` lines that open a family.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {}", kind.as_str());
    }

    /// One sample line: `name{k="v",…} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (key, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{key}=\"{}\"", escape(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: impl Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// The `_bucket`, `_sum` and `_count` samples of one histogram (the family's lines
    /// come first, from [`Text::family`]).
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let bucket = format!("{name}_bucket");
        let les = h.bounds.iter().map(f64::to_string);
        let counts = h.counts.iter().copied();
        for (le, n) in les.chain(["+Inf".to_owned()]).zip(counts.chain([h.count])) {
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, n);
        }
        self.sample(&format!("{name}_sum"), labels, h.sum);
        self.sample(&format!("{name}_count"), labels, h.count);
    }

    pub fn finish(self) -> String {
        self.0
    }
}

/// A label value as the format quotes it.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains(['\\', '"', '\n']) {
        value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .into()
    } else {
        value.into()
    }
}

/// The `/metrics` answer.
pub fn response(text: String) -> Response {
    ([(CONTENT_TYPE, MEDIA_TYPE)], text).into_response()
}

/// The process's resident set size from /proc (Linux); absent elsewhere.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: [f64; 3] = [0.001, 0.25, 10.0];

    #[test]
    fn histograms_are_cumulative() {
        let mut h = Histogram::new(&BOUNDS);
        h.observe(0.0003);
        h.observe(0.2);
        h.observe(20.0);
        assert_eq!(&*h.counts, &[1, 2, 2], "20 s is only in +Inf");
        assert_eq!(h.count(), 3);
        let mut text = Text::default();
        text.family("t_seconds", Kind::Histogram, "Time.");
        text.histogram("t_seconds", &[("route", "/x")], &h);
        assert_eq!(
            text.finish(),
            "# HELP t_seconds Time.\n# TYPE t_seconds histogram\n\
             t_seconds_bucket{route=\"/x\",le=\"0.001\"} 1\n\
             t_seconds_bucket{route=\"/x\",le=\"0.25\"} 2\n\
             t_seconds_bucket{route=\"/x\",le=\"10\"} 2\n\
             t_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n\
             t_seconds_sum{route=\"/x\"} 20.2003\n\
             t_seconds_count{route=\"/x\"} 3\n"
        );
    }

    #[test]
    fn samples_quote_and_escape_labels() {
        let mut text = Text::default();
        text.single("up", Kind::Gauge, "Whether it runs.\nYes.", 1);
        text.sample("hits_total", &[("a", "x"), ("b", "q\"\\\n")], 2.5);
        assert_eq!(
            text.finish(),
            "# HELP up Whether it runs.\\nYes.\n# TYPE up gauge\nup 1\n\
             hits_total{a=\"x\",b=\"q\\\"\\\\\\n\"} 2.5\n"
        );
    }

    #[test]
    fn the_answer_has_the_format_s_media_type() {
        let r = response(String::new());
        assert_eq!(r.headers()[CONTENT_TYPE], MEDIA_TYPE);
    }
}
