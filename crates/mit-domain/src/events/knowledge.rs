//! A team's knowledge events (`events.yaml`, `EventMessage` with `KnowledgeEventData`): what the
//! knowledge store appends to the outbox in the transaction of each change.

use mit_api::server::models::BranchStatus;
use serde::Serialize;
use uuid::Uuid;

use super::TopicEvent;

/// What happened to a team's knowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnowledgeEventKind {
    /// A fact was created.
    FactCreated,
    /// A fact's value (a merge) or metadata changed.
    FactChanged,
    /// A fact was archived.
    FactArchived,
    /// A branch was opened.
    BranchCreated,
    /// A branch's text or base changed.
    BranchUpdated,
    /// A branch's approvals changed.
    BranchApproved,
    /// A branch's vetoes changed.
    BranchVetoed,
    /// A branch merged.
    BranchMerged,
    /// A branch was closed.
    BranchClosed,
    /// Another branch merged first: this one must be rebased.
    BranchStale,
}

impl KnowledgeEventKind {
    /// The `kind` on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FactCreated => "fact-created",
            Self::FactChanged => "fact-changed",
            Self::FactArchived => "fact-archived",
            Self::BranchCreated => "branch-created",
            Self::BranchUpdated => "branch-updated",
            Self::BranchApproved => "branch-approved",
            Self::BranchVetoed => "branch-vetoed",
            Self::BranchMerged => "branch-merged",
            Self::BranchClosed => "branch-closed",
            Self::BranchStale => "branch-stale",
        }
    }
}

/// The ids and versions a client patches its view with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnowledgeEventData {
    /// The team.
    pub team_id: Uuid,
    /// The fact.
    pub fact_id: Uuid,
    /// The fact's version after the change.
    pub version: i32,
    /// The branch concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch_id: Option<Uuid>,
    /// Its status after the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch_status: Option<&'static str>,
}

/// A knowledge event to append to the team's topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnowledgeEvent {
    /// What happened.
    pub kind: KnowledgeEventKind,
    /// The details.
    pub data: KnowledgeEventData,
}

impl KnowledgeEvent {
    /// An event about a fact at `version`.
    pub fn fact(kind: KnowledgeEventKind, team: Uuid, fact: Uuid, version: i32) -> Self {
        Self { kind, data: KnowledgeEventData { team_id: team, fact_id: fact, version, branch_id: None, branch_status: None } }
    }

    /// An event about a branch of a fact at `version`.
    pub fn branch(kind: KnowledgeEventKind, team: Uuid, fact: Uuid, version: i32, branch: Uuid, status: BranchStatus) -> Self {
        let mut event = Self::fact(kind, team, fact, version);
        event.data.branch_id = Some(branch);
        event.data.branch_status = Some(status.as_str());
        event
    }
}

impl TopicEvent for KnowledgeEvent {
    fn kind(&self) -> &'static str {
        self.kind.as_str()
    }

    fn data(&self) -> serde_json::Value {
        serde_json::to_value(&self.data).unwrap_or_default()
    }
}
