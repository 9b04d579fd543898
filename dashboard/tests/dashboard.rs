//! Integration tests: the real `dashboard` binary against a real `registry` process and a
//! widget host on 127.0.0.1. The browser tests are in `browser/` (node + Chromium).

mod dashboard {
    mod api;
    mod harness;
    mod page;
}
