//! The DappMesh compiler: spec files (paths, or texts already in memory) in; a report of
//! diagnostics, a validated mesh and its rendered objects out. Data moves one way:
//! [`load`] → [`validate`] → [`model`] → [`render`] (and [`graph`], [`report`], [`schema`]).
//!
//! It reads its inputs and nothing else: no file is written, no network is touched, no
//! async runtime, cluster client or argument parser is linked in. What a caller keeps
//! between runs comes back in through hooks this crate defines ([`validate::Memo`],
//! [`render::Earlier`]); dappctl implements them over its cache, the operator not at all.

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
