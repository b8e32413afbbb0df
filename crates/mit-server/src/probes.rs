//! Readiness probes of Redis and the object store (the database's is in `mit-store`).

use std::sync::Arc;

use async_trait::async_trait;
use mit_domain::ports::DependencyProbe;

use crate::cluster::RedisLink;
use crate::objects::ObjectStore;

/// Redis answers `PING` (reported, not required: without it a node degrades but serves).
pub struct RedisProbe(pub RedisLink);

#[async_trait]
impl DependencyProbe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), String> {
        self.0
            .run(|mut r| async move { redis::cmd("PING").query_async::<String>(&mut r).await })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn required(&self) -> bool {
        false
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
