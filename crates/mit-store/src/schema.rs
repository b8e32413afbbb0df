//! The tables of `migrations/`, as diesel sees them.

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        name -> Text,
        avatar_url -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Bytea,
        session_id -> Uuid,
        issued_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    teams (id) {
        id -> Uuid,
        name -> Text,
        description -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    team_members (team_id, user_id) {
        team_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        joined_at -> Timestamptz,
    }
}

diesel::table! {
    meetings (id) {
        id -> Uuid,
        team_id -> Nullable<Uuid>,
        title -> Text,
        description -> Nullable<Text>,
        status -> Text,
        scheduled_at -> Nullable<Timestamptz>,
        started_at -> Nullable<Timestamptz>,
        ended_at -> Nullable<Timestamptz>,
        creator_id -> Uuid,
        auto_record -> Bool,
        recording_started_at -> Nullable<Timestamptz>,
        recording_version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    participants (meeting_id, user_id) {
        meeting_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        added_at -> Timestamptz,
        joined_at -> Nullable<Timestamptz>,
        left_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    notes (id) {
        id -> Uuid,
        meeting_id -> Uuid,
        author_id -> Uuid,
        content -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    chat_messages (id) {
        id -> Uuid,
        meeting_id -> Uuid,
        user_id -> Uuid,
        text -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    recordings (id) {
        id -> Uuid,
        meeting_id -> Uuid,
        user_id -> Uuid,
        kind -> Text,
        source -> Text,
        media_type -> Text,
        status -> Text,
        node -> Text,
        file_path -> Text,
        storage_key -> Text,
        started_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
        duration_ms -> Nullable<Int8>,
        size_bytes -> Nullable<Int8>,
        failure_reason -> Nullable<Text>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    jobs (id) {
        id -> Uuid,
        kind -> Text,
        subject -> Uuid,
        node -> Nullable<Text>,
        attempts -> Int4,
        run_at -> Timestamptz,
        locked_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        finished_at -> Nullable<Timestamptz>,
        outcome -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(team_members -> teams (team_id));
diesel::joinable!(team_members -> users (user_id));
diesel::joinable!(meetings -> users (creator_id));
diesel::joinable!(participants -> meetings (meeting_id));
diesel::joinable!(participants -> users (user_id));
diesel::joinable!(notes -> meetings (meeting_id));
diesel::joinable!(notes -> users (author_id));
diesel::joinable!(chat_messages -> meetings (meeting_id));
diesel::joinable!(chat_messages -> users (user_id));
diesel::joinable!(recordings -> meetings (meeting_id));
diesel::joinable!(recordings -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    refresh_tokens,
    teams,
    team_members,
    meetings,
    participants,
    notes,
    chat_messages,
    recordings,
    jobs,
);
