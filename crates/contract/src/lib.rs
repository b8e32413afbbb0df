//! Mit's OpenAPI contract as data: bundle the split YAML files into one document, lint it against
//! the conventions the generators rely on, normalise two documents so they compare by meaning, and
//! classify the differences between two versions.

mod breaking;
mod bundle;
mod diff;
mod lint;
mod normalize;
mod pointer;

pub use breaking::{BreakingChange, Severity, breaking_changes};
pub use bundle::{Bundle, BundleError, bundle};
pub use diff::{Difference, semantic_diff};
pub use lint::{Violation, lint};
pub use normalize::normalize;
pub use pointer::{escape_pointer_token, resolve_pointer};

/// The HTTP methods an OpenAPI path item may hold, in the order documents list them.
pub const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
