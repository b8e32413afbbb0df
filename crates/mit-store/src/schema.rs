// @generated automatically by Diesel CLI.

diesel::table! {
    approval_rules (team_id) {
        team_id -> Uuid,
        approvers -> Text,
        required_approvals -> Nullable<Int4>,
        updated_by -> Uuid,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    branch_approvals (branch_id, user_id) {
        branch_id -> Uuid,
        user_id -> Uuid,
        approved_at -> Timestamptz,
    }
}

diesel::table! {
    branch_discussions (id) {
        id -> Uuid,
        branch_id -> Uuid,
        parent_id -> Nullable<Uuid>,
        author_id -> Uuid,
        content -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    branch_vetoes (branch_id, user_id) {
        branch_id -> Uuid,
        user_id -> Uuid,
        reason -> Text,
        vetoed_at -> Timestamptz,
    }
}

diesel::table! {
    branches (id) {
        id -> Uuid,
        fact_id -> Uuid,
        team_id -> Uuid,
        title -> Text,
        proposed_value -> Text,
        base_value -> Text,
        base_version -> Int4,
        reason -> Text,
        status -> Text,
        author_id -> Uuid,
        meeting_id -> Nullable<Uuid>,
        review_line_id -> Nullable<Uuid>,
        merged_at -> Nullable<Timestamptz>,
        merged_by -> Nullable<Uuid>,
        closed_at -> Nullable<Timestamptz>,
        closed_by -> Nullable<Uuid>,
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
    event_tickets (token_hash) {
        token_hash -> Bytea,
        user_id -> Uuid,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    event_topics (topic) {
        topic -> Text,
        last_seq -> Int8,
    }
}

diesel::table! {
    events (id) {
        id -> Int8,
        topic -> Text,
        seq -> Int8,
        message -> Text,
        created_at -> Timestamptz,
        relayed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    fact_history (id) {
        id -> Uuid,
        fact_id -> Uuid,
        sequence -> Int8,
        kind -> Text,
        key -> Text,
        version -> Int4,
        previous_value -> Nullable<Text>,
        new_value -> Text,
        changes -> Jsonb,
        reason -> Nullable<Text>,
        changed_by -> Uuid,
        meeting_id -> Nullable<Uuid>,
        branch_id -> Nullable<Uuid>,
        review_line_id -> Nullable<Uuid>,
        merged_by -> Nullable<Uuid>,
        override_reason -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    facts (id) {
        id -> Uuid,
        team_id -> Uuid,
        key -> Text,
        value -> Text,
        category -> Nullable<Text>,
        project_id -> Nullable<Uuid>,
        source_meeting_id -> Nullable<Uuid>,
        version -> Int4,
        history_count -> Int8,
        created_by -> Uuid,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        value_changed_at -> Timestamptz,
        archived_at -> Nullable<Timestamptz>,
        archived_by -> Nullable<Uuid>,
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
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        recording_version -> Int8,
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
    projects (id) {
        id -> Uuid,
        team_id -> Uuid,
        name -> Text,
        description -> Nullable<Text>,
        created_by -> Uuid,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
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
    refresh_tokens (token_hash) {
        token_hash -> Bytea,
        session_id -> Uuid,
        issued_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    review_approvals (review_id, user_id) {
        review_id -> Uuid,
        user_id -> Uuid,
        revision -> Int8,
        approved_at -> Timestamptz,
    }
}

diesel::table! {
    review_comments (id) {
        id -> Uuid,
        review_id -> Uuid,
        line_id -> Uuid,
        parent_id -> Nullable<Uuid>,
        author_id -> Uuid,
        content -> Nullable<Text>,
        edited_at -> Nullable<Timestamptz>,
        deleted_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    review_fact_candidates (line_id) {
        line_id -> Uuid,
        review_id -> Uuid,
        key -> Text,
        value -> Text,
        category -> Nullable<Text>,
        project_id -> Nullable<Uuid>,
        marked_by -> Uuid,
        marked_at -> Timestamptz,
        fact_id -> Nullable<Uuid>,
        branch_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    review_lines (id) {
        id -> Uuid,
        review_id -> Uuid,
        line_number -> Int4,
        content -> Text,
        original_content -> Nullable<Text>,
    }
}

diesel::table! {
    review_suggestions (id) {
        id -> Uuid,
        review_id -> Uuid,
        line_id -> Uuid,
        author_id -> Uuid,
        original_text -> Text,
        suggested_text -> Text,
        reason -> Nullable<Text>,
        status -> Text,
        resolution -> Nullable<Text>,
        resolved_by -> Nullable<Uuid>,
        resolved_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    reviews (id) {
        id -> Uuid,
        meeting_id -> Uuid,
        phase -> Text,
        revision -> Int8,
        created_by -> Uuid,
        submitted_at -> Nullable<Timestamptz>,
        merged_at -> Nullable<Timestamptz>,
        merged_by -> Nullable<Uuid>,
        closed_at -> Nullable<Timestamptz>,
        closed_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
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
    suggestion_votes (suggestion_id, user_id) {
        suggestion_id -> Uuid,
        user_id -> Uuid,
        vote -> Text,
        voted_at -> Timestamptz,
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
    teams (id) {
        id -> Uuid,
        name -> Text,
        description -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

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

diesel::joinable!(approval_rules -> teams (team_id));
diesel::joinable!(approval_rules -> users (updated_by));
diesel::joinable!(branch_approvals -> branches (branch_id));
diesel::joinable!(branch_approvals -> users (user_id));
diesel::joinable!(branch_discussions -> branches (branch_id));
diesel::joinable!(branch_discussions -> users (author_id));
diesel::joinable!(branch_vetoes -> branches (branch_id));
diesel::joinable!(branch_vetoes -> users (user_id));
diesel::joinable!(branches -> facts (fact_id));
diesel::joinable!(branches -> meetings (meeting_id));
diesel::joinable!(branches -> review_lines (review_line_id));
diesel::joinable!(branches -> teams (team_id));
diesel::joinable!(chat_messages -> meetings (meeting_id));
diesel::joinable!(chat_messages -> users (user_id));
diesel::joinable!(event_tickets -> users (user_id));
diesel::joinable!(fact_history -> branches (branch_id));
diesel::joinable!(fact_history -> facts (fact_id));
diesel::joinable!(fact_history -> meetings (meeting_id));
diesel::joinable!(fact_history -> review_lines (review_line_id));
diesel::joinable!(facts -> meetings (source_meeting_id));
diesel::joinable!(facts -> projects (project_id));
diesel::joinable!(facts -> teams (team_id));
diesel::joinable!(meetings -> teams (team_id));
diesel::joinable!(meetings -> users (creator_id));
diesel::joinable!(notes -> meetings (meeting_id));
diesel::joinable!(notes -> users (author_id));
diesel::joinable!(participants -> meetings (meeting_id));
diesel::joinable!(participants -> users (user_id));
diesel::joinable!(projects -> teams (team_id));
diesel::joinable!(projects -> users (created_by));
diesel::joinable!(recordings -> meetings (meeting_id));
diesel::joinable!(recordings -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(review_approvals -> reviews (review_id));
diesel::joinable!(review_approvals -> users (user_id));
diesel::joinable!(review_comments -> review_lines (line_id));
diesel::joinable!(review_comments -> reviews (review_id));
diesel::joinable!(review_comments -> users (author_id));
diesel::joinable!(review_fact_candidates -> branches (branch_id));
diesel::joinable!(review_fact_candidates -> facts (fact_id));
diesel::joinable!(review_fact_candidates -> projects (project_id));
diesel::joinable!(review_fact_candidates -> review_lines (line_id));
diesel::joinable!(review_fact_candidates -> reviews (review_id));
diesel::joinable!(review_fact_candidates -> users (marked_by));
diesel::joinable!(review_lines -> reviews (review_id));
diesel::joinable!(review_suggestions -> review_lines (line_id));
diesel::joinable!(review_suggestions -> reviews (review_id));
diesel::joinable!(reviews -> meetings (meeting_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(suggestion_votes -> review_suggestions (suggestion_id));
diesel::joinable!(suggestion_votes -> users (user_id));
diesel::joinable!(team_members -> teams (team_id));
diesel::joinable!(team_members -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    approval_rules,
    branch_approvals,
    branch_discussions,
    branch_vetoes,
    branches,
    chat_messages,
    event_tickets,
    event_topics,
    events,
    fact_history,
    facts,
    jobs,
    meetings,
    notes,
    participants,
    projects,
    recordings,
    refresh_tokens,
    review_approvals,
    review_comments,
    review_fact_candidates,
    review_lines,
    review_suggestions,
    reviews,
    sessions,
    suggestion_votes,
    team_members,
    teams,
    users,
);
