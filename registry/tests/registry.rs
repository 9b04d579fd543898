//! The one integration-test binary of the registry (one module per topic): the real
//! `registry` binary on 127.0.0.1, real SQLite files, real HTTP.

mod registry {
    pub mod harness;

    mod conformance;
    mod disk;
    mod durability;
    mod hostile;
    mod lifetime;
    mod metrics;
    mod openapi;
    mod overload;
    mod sidecar;
    mod tokens;
    mod watch;
}
