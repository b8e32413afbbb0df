-- Server-side recordings, and the durable jobs that finish them.

-- Counts changes of `recording_started_at`, so reports of them (to a live room) apply in the
-- order they were committed, whatever order they arrive in.
ALTER TABLE meetings ADD COLUMN recording_version bigint NOT NULL DEFAULT 0;
CREATE TABLE recordings (
    id             uuid PRIMARY KEY,
    meeting_id     uuid NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    user_id        uuid NOT NULL REFERENCES users (id),
    kind           text NOT NULL CHECK (kind IN ('audio', 'video')),
    source         text NOT NULL CHECK (source IN ('microphone', 'camera', 'screen')),
    media_type     text NOT NULL,
    status         text NOT NULL CHECK (status IN ('recording', 'processing', 'ready', 'failed')),
    -- The node whose disk holds the file until it is uploaded, and where.
    node           text NOT NULL,
    file_path      text NOT NULL,
    storage_key    text NOT NULL UNIQUE,
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz,
    duration_ms    bigint CHECK (duration_ms >= 0),
    size_bytes     bigint CHECK (size_bytes >= 0),
    failure_reason text,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX recordings_meeting ON recordings (meeting_id, started_at, id);
-- What a node finds to finalise after a crash.
CREATE INDEX recordings_unfinished ON recordings (node) WHERE status = 'recording';

-- Work that must happen even if the process dies: claimed with FOR UPDATE SKIP LOCKED, retried
-- with backoff, one row per (kind, subject) so enqueuing twice is harmless.
CREATE TABLE jobs (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL,
    subject      uuid NOT NULL,
    -- Only this node may run it (its files are there); NULL: any node.
    node         text,
    attempts     integer NOT NULL DEFAULT 0,
    run_at       timestamptz NOT NULL,
    locked_until timestamptz,
    last_error   text,
    finished_at  timestamptz,
    outcome      text CHECK (outcome IN ('done', 'failed')),
    created_at   timestamptz NOT NULL,
    UNIQUE (kind, subject)
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE finished_at IS NULL;
