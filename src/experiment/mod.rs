//! Experiments beyond one instance (docs/design.md, "Experiments beyond
//! one instance"): they hold several live [`crate::env::Instance`]s at once.

pub mod density;
pub mod layers;
pub mod neighbours;
pub mod permissions;
