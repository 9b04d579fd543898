//! The DappMesh dashboard's backend: it serves the page, lists the registry's widgets and
//! data products from a cache refreshed in the background, and proxies the bundles that
//! widgets registered (and nothing else).
//!
//! Data moves one way: [`source`] reads the registry, [`view`] turns its answers into what
//! the page is given, [`listing`] caches and renders them, [`bundle`] fetches and pins
//! bundles from the addresses [`egress`] allows, [`page`] holds the embedded front-end
//! and [`api`] routes requests.
//!
//! It speaks to the registry over HTTP only: it shares `registry-api`'s widget rules and
//! `dappmesh-service`'s HTTP pieces, never the registry crate itself.

pub mod api;
pub mod bundle;
pub mod egress;
pub mod listing;
pub mod page;
pub mod source;
pub mod view;

pub use api::{AppState, app};
