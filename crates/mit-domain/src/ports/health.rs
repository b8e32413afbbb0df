//! Readiness checks of backing services.

use async_trait::async_trait;

/// One dependency `/ready` checks.
#[async_trait]
pub trait DependencyProbe: Send + Sync + 'static {
    /// `database`, `redis` or `object_store`.
    fn name(&self) -> &'static str;
    /// `Err` with a short reason when the dependency cannot be used.
    async fn check(&self) -> Result<(), String>;
    /// Whether the node is unready without it (a node without Redis degrades but serves).
    fn required(&self) -> bool {
        true
    }
}
