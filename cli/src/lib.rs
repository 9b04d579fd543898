//! `dappctl` as a library: load spec files, validate them against the Data Application Model,
//! and report what is wrong. The binary in `main.rs` only parses arguments and prints.

pub mod apply;
pub mod cache;
pub mod diagnostic;
pub mod graph;
pub mod load;
pub mod model;
pub mod render;
pub mod report;
pub mod scaffold;
pub mod schema;
pub mod source;
pub mod validate;
pub mod write;
