-- Accounts and sessions.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    -- NULL once the account is deleted: the row stays so history keeps its author.
    email         text CHECK (email = lower(email)),
    password_hash text,
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    avatar_url    text CHECK (char_length(avatar_url) <= 2048),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz
);
CREATE UNIQUE INDEX users_email_key ON users (email) WHERE email IS NOT NULL;
CREATE INDEX users_name_search ON users USING gin (name gin_trgm_ops) WHERE deleted_at IS NULL;

-- One row per sign-in; every refresh token of a sign-in belongs to its session (the "family").
CREATE TABLE sessions (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    user_agent  text,
    ip          text
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;

-- Only a SHA-256 of each refresh token is kept; a token is spent once `used_at` is set.
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
