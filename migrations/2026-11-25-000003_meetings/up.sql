-- Meetings, their participants, notes and chat.
CREATE TABLE meetings (
    id                   uuid PRIMARY KEY,
    team_id              uuid REFERENCES teams (id) ON DELETE SET NULL,
    title                text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description          text CHECK (char_length(description) <= 5000),
    status               text NOT NULL CHECK (status IN ('scheduled', 'in_progress', 'completed', 'cancelled')),
    scheduled_at         timestamptz,
    started_at           timestamptz,
    ended_at             timestamptz,
    creator_id           uuid NOT NULL REFERENCES users (id),
    auto_record          boolean NOT NULL,
    -- Set while the server records the meeting.
    recording_started_at timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);
CREATE INDEX meetings_team ON meetings (team_id) WHERE team_id IS NOT NULL;
CREATE INDEX meetings_order ON meetings ((coalesce(scheduled_at, created_at)) DESC, id DESC);

-- The primary key makes concurrent adds of the same person produce one row.
CREATE TABLE participants (
    meeting_id uuid NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id),
    role       text NOT NULL CHECK (role IN ('host', 'participant')),
    added_at   timestamptz NOT NULL,
    joined_at  timestamptz,
    left_at    timestamptz,
    PRIMARY KEY (meeting_id, user_id)
);
CREATE INDEX participants_user ON participants (user_id);

CREATE TABLE notes (
    id         uuid PRIMARY KEY,
    meeting_id uuid NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    author_id  uuid NOT NULL REFERENCES users (id),
    content    text NOT NULL CHECK (octet_length(content) BETWEEN 1 AND 102400),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX notes_meeting ON notes (meeting_id, created_at, id);

CREATE TABLE chat_messages (
    id         uuid PRIMARY KEY,
    meeting_id uuid NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id),
    text       text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 4000),
    created_at timestamptz NOT NULL
);
CREATE INDEX chat_messages_meeting ON chat_messages (meeting_id, created_at DESC, id DESC);
