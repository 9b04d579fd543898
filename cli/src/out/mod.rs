//! Everything dappctl keeps on disk besides its printed output: files written atomically, the
//! incremental render into an output directory (the ownership record, fingerprints, sync,
//! what an interrupted sync leaves), and the user's cache directory with the validation
//! memo. The compiler never writes; it reaches what is kept here only through the hooks it
//! defines.

pub mod atomic;
pub mod cache;
pub mod incremental;
pub mod interrupted;
pub mod memo;
pub mod sync;
