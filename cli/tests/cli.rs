//! The one integration-test binary of dappctl (one module per topic), as ripgrep does it.

mod cli {
    pub mod harness;

    mod apply;
    mod commands;
    mod e2e;
    mod formats;
    mod fuzz;
    mod graph;
    mod health;
    mod hostile;
    mod interrupted;
    mod render;
    mod rules;
}
