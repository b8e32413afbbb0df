//! Knowledge records as the contract shows them.

use chrono::{DateTime, Utc};
use mit_api::server::models::{Fact, FactAsOf, FactFieldChange, FactHistoryEntry, Project, ProjectSummary};
use uuid::Uuid;

use crate::ports::knowledge::{FactAsOfRecord, FactRecord, HistoryRecord, ProjectRecord};
use crate::users::user_ref_model;

pub(super) fn project_model(project: ProjectRecord) -> Project {
    Project {
        id: project.id,
        team_id: project.team_id,
        name: project.name,
        description: project.description,
        fact_count: project.fact_count,
        created_by: user_ref_model(project.created_by),
        created_at: project.created_at,
        updated_at: project.updated_at,
    }
}

pub(super) fn fact_model(fact: FactRecord) -> Fact {
    Fact {
        id: fact.id,
        team_id: fact.team_id,
        key: fact.key,
        value: fact.value,
        category: fact.category,
        project: fact.project.map(|(id, name)| ProjectSummary { id, name }),
        source_meeting_id: fact.source_meeting_id,
        version: fact.version,
        open_branch_count: fact.open_branch_count,
        created_by: user_ref_model(fact.created_by),
        created_at: fact.created_at,
        updated_at: fact.updated_at,
        value_changed_at: fact.value_changed_at,
        archived_at: fact.archived_at,
    }
}

pub(super) fn history_model(entry: HistoryRecord) -> FactHistoryEntry {
    FactHistoryEntry {
        id: entry.id,
        fact_id: entry.fact_id,
        sequence: entry.sequence,
        kind: entry.kind,
        version: entry.version,
        changes: entry.changes.into_iter().map(|c| FactFieldChange { field: c.field, previous: c.previous, new: c.new }).collect(),
        previous_value: entry.previous_value,
        new_value: entry.new_value,
        reason: entry.reason,
        changed_by: user_ref_model(entry.changed_by),
        merged_by: entry.merged_by.map(user_ref_model),
        branch_id: entry.branch_id,
        review_line_id: entry.review_line_id,
        override_reason: entry.override_reason,
        meeting_id: entry.meeting_id,
        created_at: entry.created_at,
    }
}

pub(super) fn as_of_model(fact: Uuid, at: DateTime<Utc>, then: FactAsOfRecord) -> FactAsOf {
    FactAsOf {
        fact_id: fact,
        at,
        key: then.key,
        value: then.value,
        version: then.version,
        archived: then.archived,
        value_set_at: then.value_set_at,
    }
}
