-- Ground Truth: a team's projects and facts, and the history of every fact. A fact's key is
-- unique per team after trimming and case-folding, as a constraint; facts are archived, never
-- deleted; history entries are numbered per fact in the order they were written.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE projects (
    id uuid PRIMARY KEY,
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX projects_name_per_team ON projects (team_id, lower(name));

CREATE TABLE facts (
    id uuid PRIMARY KEY,
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    key text NOT NULL CHECK (key = btrim(key) AND key <> ''),
    value text NOT NULL,
    category text,
    project_id uuid REFERENCES projects (id) ON DELETE SET NULL,
    source_meeting_id uuid REFERENCES meetings (id) ON DELETE SET NULL,
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    history_count bigint NOT NULL DEFAULT 1,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    value_changed_at timestamptz NOT NULL,
    archived_at timestamptz,
    archived_by uuid REFERENCES users (id)
);
CREATE UNIQUE INDEX facts_key_per_team ON facts (team_id, lower(key));
-- Lists page through a team's facts in key order; this serves the order (and `LIMIT`) directly.
CREATE INDEX facts_in_key_order ON facts (team_id, lower(key), id);
CREATE INDEX facts_by_project ON facts (project_id) WHERE project_id IS NOT NULL;
CREATE INDEX facts_search ON facts USING gin ((key || ' ' || value) gin_trgm_ops);

-- Proposals to change a fact's value. A branch records the value and version it was proposed
-- against; merging is compare-and-swap on that version, under the fact's row lock.
CREATE TABLE branches (
    id uuid PRIMARY KEY,
    fact_id uuid NOT NULL REFERENCES facts (id) ON DELETE CASCADE,
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    title text NOT NULL,
    proposed_value text NOT NULL,
    base_value text NOT NULL,
    base_version integer NOT NULL,
    reason text NOT NULL,
    status text NOT NULL CHECK (status IN ('open', 'merged', 'closed')),
    author_id uuid NOT NULL REFERENCES users (id),
    meeting_id uuid REFERENCES meetings (id) ON DELETE SET NULL,
    review_line_id uuid REFERENCES review_lines (id) ON DELETE SET NULL,
    merged_at timestamptz,
    merged_by uuid REFERENCES users (id),
    closed_at timestamptz,
    closed_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX branches_by_fact ON branches (fact_id, created_at DESC, id);
CREATE INDEX branches_by_team ON branches (team_id, created_at DESC, id);
CREATE INDEX branches_open ON branches (fact_id) WHERE status = 'open';

CREATE TABLE branch_approvals (
    branch_id uuid NOT NULL REFERENCES branches (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id),
    approved_at timestamptz NOT NULL,
    PRIMARY KEY (branch_id, user_id)
);

CREATE TABLE branch_vetoes (
    branch_id uuid NOT NULL REFERENCES branches (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id),
    reason text NOT NULL,
    vetoed_at timestamptz NOT NULL,
    PRIMARY KEY (branch_id, user_id)
);

CREATE TABLE branch_discussions (
    id uuid PRIMARY KEY,
    branch_id uuid NOT NULL REFERENCES branches (id) ON DELETE CASCADE,
    parent_id uuid REFERENCES branch_discussions (id) ON DELETE CASCADE,
    author_id uuid NOT NULL REFERENCES users (id),
    content text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX branch_discussions_by_branch ON branch_discussions (branch_id, created_at, id);

-- The team's rule for merging; a team without a row has the default (admins, all of them).
CREATE TABLE approval_rules (
    team_id uuid PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    approvers text NOT NULL CHECK (approvers IN ('admins', 'members')),
    required_approvals integer CHECK (required_approvals BETWEEN 1 AND 100),
    updated_by uuid NOT NULL REFERENCES users (id),
    updated_at timestamptz NOT NULL
);

CREATE TABLE fact_history (
    id uuid PRIMARY KEY,
    fact_id uuid NOT NULL REFERENCES facts (id) ON DELETE CASCADE,
    sequence bigint NOT NULL,
    kind text NOT NULL CHECK (kind IN ('created', 'value_changed', 'metadata_changed', 'archived')),
    -- The fact's key, value version and value after the entry.
    key text NOT NULL,
    version integer NOT NULL,
    previous_value text,
    new_value text NOT NULL,
    changes jsonb NOT NULL DEFAULT '[]',
    reason text,
    changed_by uuid NOT NULL REFERENCES users (id),
    meeting_id uuid REFERENCES meetings (id) ON DELETE SET NULL,
    branch_id uuid REFERENCES branches (id) ON DELETE SET NULL,
    review_line_id uuid REFERENCES review_lines (id) ON DELETE SET NULL,
    merged_by uuid REFERENCES users (id),
    override_reason text,
    created_at timestamptz NOT NULL,
    UNIQUE (fact_id, sequence)
);
-- "What did we believe at T": the newest entry at or before T, by index.
CREATE INDEX fact_history_as_of ON fact_history (fact_id, created_at DESC, sequence DESC);
CREATE INDEX fact_history_by_version ON fact_history (fact_id, version);
