//! The registry's shared vocabulary: the widget element (a custom-element tag and its plain
//! attributes) with the rules that decide what may be mounted, the checks on ids and free
//! text, the URL hosts no widget or product may name ([`address`]), and a data product's
//! catalog entry as the operator writes it ([`product`]). One definition for everyone on
//! the path of a widget: `dappctl validate` refuses what the registry would refuse, the
//! registry stores only what passes, and the dashboard mounts only what passes again.
//!
//! Serde only: no HTTP, no async, so the compiler can link it.

pub mod address;
pub mod product;
pub mod text;
pub mod widget;
