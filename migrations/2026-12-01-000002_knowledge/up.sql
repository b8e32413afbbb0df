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
CREATE INDEX facts_by_project ON facts (project_id) WHERE project_id IS NOT NULL;
CREATE INDEX facts_search ON facts USING gin ((key || ' ' || value) gin_trgm_ops);

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
    created_at timestamptz NOT NULL,
    UNIQUE (fact_id, sequence)
);
-- "What did we believe at T": the newest entry at or before T, by index.
CREATE INDEX fact_history_as_of ON fact_history (fact_id, created_at DESC, sequence DESC);
CREATE INDEX fact_history_by_version ON fact_history (fact_id, version);
