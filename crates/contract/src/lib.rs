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

/// The differences between the contract whose entry point is `root` and a served spec (JSON);
/// what `cargo xtask contract check` reports, one readable entry each.
pub fn drift(root: &std::path::Path, served_json: &str) -> Result<Vec<Difference>, DriftError> {
    let contract = bundle(root)?;
    let served: serde_json::Value = serde_json::from_str(served_json).map_err(|e| DriftError::Served(e.to_string()))?;
    Ok(semantic_diff(&contract.doc, &served))
}

/// Why a drift check could not run.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// The contract does not bundle.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The served spec is not JSON.
    #[error("the served spec is not JSON: {0}")]
    Served(String),
}
