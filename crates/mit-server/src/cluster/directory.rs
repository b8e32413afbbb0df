//! The room directory: which node hosts each meeting's room. Without Redis this node hosts every
//! room. With Redis, `mit:room:<meeting>` holds the owner's `NODE_ID` under a lease the owner
//! renews (see [`super::heartbeat`]), and `mit:node:<id>` each live node's registration under the
//! same lease; a room whose owner's registration lapsed goes to the next node that asks. Every
//! change is one Lua script, so two nodes deciding at once agree on one owner.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mit_domain::ports::rooms::{PlacementError, RoomDirectory};
use redis::Script;
use uuid::Uuid;

use super::link::{LinkError, RedisLink};
use super::nodes::{NodeRecord, ThisNode, choose};
use crate::realtime::RoomRegistry;

/// How long a placement this node saw serves joins during a Redis outage.
const REMEMBER_PLACEMENTS: Duration = Duration::from_secs(300);
/// The set of registered node ids.
const NODES: &str = "mit:nodes";

fn room_key(meeting: Uuid) -> String {
    format!("mit:room:{meeting}")
}

fn node_key(id: &str) -> String {
    format!("mit:node:{id}")
}

/// Sets the owner to ARGV[1] if the room has none or its owner is ARGV[3] (a node found dead);
/// returns the owner afterwards.
const CLAIM: &str = r"
local owner = redis.call('GET', KEYS[1])
if owner == false or owner == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return owner";

/// Extends ARGV[1]'s lease (or takes the room back if its lease lapsed meanwhile); 0 if another
/// node owns it now.
const RENEW: &str = r"
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if owner == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0";

/// Deletes the entry if ARGV[1] still owns it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Why a lookup failed.
enum Miss {
    Link(LinkError),
    NoNode,
}

impl From<LinkError> for Miss {
    fn from(error: LinkError) -> Self {
        Self::Link(error)
    }
}

/// The directory of this node's cluster.
pub struct Directory {
    node: Arc<ThisNode>,
    rooms: Arc<RoomRegistry>,
    redis: Option<RedisLink>,
    lease: Duration,
    /// Recent answers (meeting → signalling URL), read only while Redis cannot be asked. An answer
    /// may have gone stale (the room moved since): the client then gets 4010 from the node it
    /// names and asks again, and is answered 503 once the entry expires.
    recent: moka::sync::Cache<Uuid, String>,
    claim: Script,
    renew: Script,
    release: Script,
}

impl Directory {
    /// The directory; alone without `redis`, else shared through it with leases of `lease`.
    pub fn new(node: Arc<ThisNode>, rooms: Arc<RoomRegistry>, redis: Option<RedisLink>, lease: Duration) -> Self {
        Self {
            node,
            rooms,
            redis,
            lease,
            recent: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(REMEMBER_PLACEMENTS).build(),
            claim: Script::new(CLAIM),
            renew: Script::new(RENEW),
            release: Script::new(RELEASE),
        }
    }

    /// This node.
    pub fn node(&self) -> &Arc<ThisNode> {
        &self.node
    }

    /// Whether a signalling socket for `meeting` may open its room here: the room is open here,
    /// or the directory names (or now makes) this node its owner. While Redis is down only rooms
    /// known to be here are.
    pub async fn admits(&self, meeting: Uuid) -> bool {
        if self.rooms.is_open(meeting) {
            return true;
        }
        let Some(redis) = &self.redis else { return true };
        if self.node.is_draining() {
            // A room placed here just before draining began must not keep pointing here.
            let mut invocation = self.release.key(room_key(meeting));
            invocation.arg(&self.node.id);
            let _ = redis.run(|mut r| async move { invocation.invoke_async::<i64>(&mut r).await }).await;
            return false;
        }
        match self.owner_or_claim(redis, meeting, &self.node.id).await {
            Ok(owner) => owner == self.node.id,
            Err(_) => self.recent.get(&meeting).is_some_and(|url| url == self.node.signaling_url),
        }
    }

    /// Registers this node and renews its rooms' leases; returns the rooms another node owns
    /// now (taken over while this node could not renew), which must be vacated here.
    pub async fn renew(&self) -> Result<Vec<Uuid>, LinkError> {
        let Some(redis) = &self.redis else { return Ok(Vec::new()) };
        self.node.set_load(self.rooms.participants());
        let record = serde_json::to_string(&self.node.record()).map_err(|e| LinkError::Failed(e.to_string()))?;
        let (key, id, lease) = (node_key(&self.node.id), self.node.id.clone(), self.lease_ms());
        redis
            .run(|mut r| async move {
                redis::pipe()
                    .cmd("SET")
                    .arg(key)
                    .arg(record)
                    .arg("PX")
                    .arg(lease)
                    .ignore()
                    .cmd("SADD")
                    .arg(NODES)
                    .arg(id)
                    .ignore()
                    .query_async::<()>(&mut r)
                    .await
            })
            .await?;
        let mut lost = Vec::new();
        for meeting in self.rooms.open_meetings() {
            let mut invocation = self.renew.key(room_key(meeting));
            invocation.arg(&self.node.id).arg(self.lease_ms());
            let kept: i64 = redis.run(|mut r| async move { invocation.invoke_async(&mut r).await }).await?;
            if kept == 0 {
                lost.push(meeting);
            }
        }
        Ok(lost)
    }

    /// Takes this node out of the directory (a clean stop): its registration and its rooms'
    /// entries go at once instead of lapsing.
    pub async fn withdraw(&self) {
        let Some(redis) = &self.redis else { return };
        let (key, id) = (node_key(&self.node.id), self.node.id.clone());
        let _ = redis
            .run(|mut r| async move { redis::pipe().del(&key).ignore().srem(NODES, id).ignore().query_async::<()>(&mut r).await })
            .await;
        for meeting in self.rooms.open_meetings() {
            let mut invocation = self.release.key(room_key(meeting));
            invocation.arg(&self.node.id);
            let _ = redis.run(|mut r| async move { invocation.invoke_async::<i64>(&mut r).await }).await;
        }
    }

    fn lease_ms(&self) -> u64 {
        u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX)
    }

    /// The room's owner, made `candidate` if it has none or its owner is gone.
    async fn owner_or_claim(&self, redis: &RedisLink, meeting: Uuid, candidate: &str) -> Result<String, LinkError> {
        let key = room_key(meeting);
        let owner = self.owner(redis, &key).await?;
        let dead = match owner {
            Some(owner) if owner == self.node.id || self.record_of(redis, &owner).await?.is_some() => return Ok(owner),
            Some(dead) => dead,
            None => String::new(),
        };
        let mut invocation = self.claim.key(key);
        invocation.arg(candidate).arg(self.lease_ms()).arg(dead);
        redis.run(|mut r| async move { invocation.invoke_async(&mut r).await }).await
    }

    /// The node id the directory names for the room at `key`.
    async fn owner(&self, redis: &RedisLink, key: &str) -> Result<Option<String>, LinkError> {
        let key = key.to_string();
        redis.run(|mut r| async move { redis::cmd("GET").arg(key).query_async(&mut r).await }).await
    }

    /// A node's registration, if it is live.
    async fn record_of(&self, redis: &RedisLink, id: &str) -> Result<Option<NodeRecord>, LinkError> {
        if id == self.node.id {
            return Ok(Some(self.node.record()));
        }
        let key = node_key(id);
        let text: Option<String> = redis.run(|mut r| async move { redis::cmd("GET").arg(key).query_async(&mut r).await }).await?;
        Ok(text.and_then(|text| serde_json::from_str(&text).ok()))
    }

    /// Every live node's registration (this node's as of now).
    async fn live_nodes(&self, redis: &RedisLink) -> Result<Vec<NodeRecord>, LinkError> {
        let ids: Vec<String> = redis.run(|mut r| async move { redis::cmd("SMEMBERS").arg(NODES).query_async(&mut r).await }).await?;
        let others: Vec<String> = ids.into_iter().filter(|id| *id != self.node.id).collect();
        let mut nodes = vec![self.node.record()];
        if others.is_empty() {
            return Ok(nodes);
        }
        let keys: Vec<String> = others.iter().map(|id| node_key(id)).collect();
        let texts: Vec<Option<String>> = redis.run(|mut r| async move { redis::cmd("MGET").arg(keys).query_async(&mut r).await }).await?;
        let mut gone = Vec::new();
        for (id, text) in others.into_iter().zip(texts) {
            match text.and_then(|text| serde_json::from_str::<NodeRecord>(&text).ok()) {
                Some(record) => nodes.push(record),
                None => gone.push(id),
            }
        }
        if !gone.is_empty() {
            let _ = redis.run(|mut r| async move { redis::cmd("SREM").arg(NODES).arg(gone).query_async::<()>(&mut r).await }).await;
        }
        Ok(nodes)
    }

    /// The owner's signalling URL, placing the room on the least-loaded node if it has no live
    /// owner.
    async fn locate(&self, redis: &RedisLink, meeting: Uuid) -> Result<String, Miss> {
        let key = room_key(meeting);
        let owner = self.owner(redis, &key).await?;
        let mut dead = String::new();
        if let Some(owner) = owner {
            if let Some(record) = self.record_of(redis, &owner).await? {
                return Ok(record.signaling_url);
            }
            dead = owner;
        }
        let nodes = self.live_nodes(redis).await?;
        let chosen = choose(&nodes).ok_or(Miss::NoNode)?;
        let mut invocation = self.claim.key(key);
        invocation.arg(&chosen.id).arg(self.lease_ms()).arg(dead);
        let owner: String = redis.run(|mut r| async move { invocation.invoke_async(&mut r).await }).await?;
        if owner == chosen.id {
            return Ok(chosen.signaling_url.clone());
        }
        self.record_of(redis, &owner).await?.map(|record| record.signaling_url).ok_or(Miss::NoNode)
    }
}

#[async_trait]
impl RoomDirectory for Directory {
    async fn place(&self, meeting: Uuid) -> Result<String, PlacementError> {
        let Some(redis) = &self.redis else { return Ok(self.node.signaling_url.clone()) };
        if self.rooms.is_open(meeting) {
            self.recent.insert(meeting, self.node.signaling_url.clone());
            return Ok(self.node.signaling_url.clone());
        }
        match self.locate(redis, meeting).await {
            Ok(url) => {
                self.recent.insert(meeting, url.clone());
                Ok(url)
            }
            Err(Miss::NoNode) => Err(PlacementError::NoNode),
            Err(Miss::Link(error)) => {
                tracing::debug!(%error, %meeting, "placing from what this node saw last");
                self.recent.get(&meeting).ok_or(PlacementError::DirectoryDown)
            }
        }
    }

    fn draining(&self) -> bool {
        self.node.is_draining()
    }
}
