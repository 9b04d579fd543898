//! Integration tests: the real `dashboard` binary against a real `registry` process and a
//! widget host; the cases that fetch bundles run inside a network namespace they create. The
//! browser tests are in `browser/` (node + Chromium).

mod dashboard {
    mod api;
    mod egress;
    mod harness;
    mod page;
}
