//! Readiness probes of Redis and the object store (the database's is in `mit-store`).

use std::sync::Arc;

use async_trait::async_trait;
use mit_domain::ports::DependencyProbe;
use redis::aio::ConnectionManager;

use crate::objects::ObjectStore;

/// Redis answers `PING`.
pub struct RedisProbe(pub ConnectionManager);

#[async_trait]
impl DependencyProbe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), String> {
        let mut redis = self.0.clone();
        redis::cmd("PING").query_async::<String>(&mut redis).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// The object store holding recordings can be used.
pub struct ObjectStoreProbe(pub Arc<ObjectStore>);

#[async_trait]
impl DependencyProbe for ObjectStoreProbe {
    fn name(&self) -> &'static str {
        "object_store"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.check().await.map_err(|e| e.to_string())
    }
}
