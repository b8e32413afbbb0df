-- Reviews of meetings' minutes. Every rule that concurrency could break is a constraint here:
-- one review per meeting, one approval per (review, user), one vote per (suggestion, user).
CREATE TABLE reviews (
    id uuid PRIMARY KEY,
    meeting_id uuid NOT NULL UNIQUE REFERENCES meetings (id) ON DELETE CASCADE,
    -- `approved` is computed from approvals, never stored.
    phase text NOT NULL CHECK (phase IN ('draft', 'in_review', 'closed', 'merged')),
    revision bigint NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_by uuid NOT NULL REFERENCES users (id),
    submitted_at timestamptz,
    merged_at timestamptz,
    merged_by uuid REFERENCES users (id),
    closed_at timestamptz,
    closed_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE review_lines (
    id uuid PRIMARY KEY,
    review_id uuid NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    line_number integer NOT NULL CHECK (line_number >= 1),
    content text NOT NULL,
    original_content text,
    UNIQUE (review_id, line_number)
);

-- Comments and suggestions name their review as well as their line, so the per-review counts a
-- write reads under the review's lock are one index lookup.
CREATE TABLE review_comments (
    id uuid PRIMARY KEY,
    review_id uuid NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    line_id uuid NOT NULL REFERENCES review_lines (id) ON DELETE CASCADE,
    parent_id uuid REFERENCES review_comments (id) ON DELETE CASCADE,
    author_id uuid NOT NULL REFERENCES users (id),
    -- NULL once deleted: the row stays as a placeholder so replies keep their parent.
    content text,
    edited_at timestamptz,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL,
    CHECK ((content IS NULL) = (deleted_at IS NOT NULL))
);
CREATE INDEX review_comments_by_line ON review_comments (line_id, created_at, id);
CREATE INDEX review_comments_live ON review_comments (review_id, line_id) WHERE deleted_at IS NULL;

CREATE TABLE review_suggestions (
    id uuid PRIMARY KEY,
    review_id uuid NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    line_id uuid NOT NULL REFERENCES review_lines (id) ON DELETE CASCADE,
    author_id uuid NOT NULL REFERENCES users (id),
    original_text text NOT NULL,
    suggested_text text NOT NULL,
    reason text,
    status text NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected', 'withdrawn')),
    resolution text CHECK (resolution IN ('votes', 'host', 'withdrawn', 'superseded')),
    resolved_by uuid REFERENCES users (id),
    resolved_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CHECK ((status = 'pending') = (resolution IS NULL))
);
CREATE INDEX review_suggestions_by_line ON review_suggestions (line_id, created_at, id);
CREATE INDEX review_suggestions_pending ON review_suggestions (review_id, line_id) WHERE status = 'pending';

CREATE TABLE suggestion_votes (
    suggestion_id uuid NOT NULL REFERENCES review_suggestions (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id),
    vote text NOT NULL CHECK (vote IN ('accept', 'reject')),
    voted_at timestamptz NOT NULL,
    PRIMARY KEY (suggestion_id, user_id)
);

CREATE TABLE review_approvals (
    review_id uuid NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id),
    revision bigint NOT NULL,
    approved_at timestamptz NOT NULL,
    PRIMARY KEY (review_id, user_id)
);

-- The transactional outbox: an event commits with its change, gets the next number of its topic
-- (the topic row is the lock that orders them), and is relayed to sockets after the commit.
CREATE TABLE event_topics (
    topic text PRIMARY KEY,
    last_seq bigint NOT NULL
);

CREATE TABLE events (
    id bigserial PRIMARY KEY,
    topic text NOT NULL,
    seq bigint NOT NULL,
    message text NOT NULL,
    created_at timestamptz NOT NULL,
    relayed_at timestamptz,
    UNIQUE (topic, seq)
);
CREATE INDEX events_unrelayed ON events (id) WHERE relayed_at IS NULL;
CREATE INDEX events_by_age ON events (created_at);

-- Single-use tickets for the events socket; only their SHA-256 is stored.
CREATE TABLE event_tickets (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);
CREATE INDEX event_tickets_by_expiry ON event_tickets (expires_at);
