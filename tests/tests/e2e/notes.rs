//! Notes: participants write, authors edit, authors or hosts delete; at most 100 KB.

use mit_client::types;
use mit_tests::TestApp;
use serde_json::json;

use crate::meetings::{meeting, team_meeting};
use crate::{expect_error, expect_raw_error, http};

fn note(content: &str) -> types::builder::WriteNoteRequest {
    types::WriteNoteRequest::builder().content(content.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn notes_are_written_read_edited_and_deleted_by_the_right_people() {
    let app = TestApp::spawn().await;
    let (host, author, other) = (app.register("Host").await, app.register("Author").await, app.register("Other").await);
    let m = meeting(&host, "M", &[&author, &other]).await;
    let written = author.client.create_note().meeting_id(m.id).body(note("# Decisions\n- ship it")).send().await.expect("write");
    assert_eq!(written.status().as_u16(), 201);
    let written = written.into_inner();
    assert_eq!((written.author.id, written.meeting_id), (author.id, m.id));
    let read = other.client.get_note().meeting_id(m.id).note_id(written.id).send().await.expect("read").into_inner();
    assert_eq!(read.content.as_str(), "# Decisions\n- ship it");
    expect_error(other.client.update_note().meeting_id(m.id).note_id(written.id).body(note("mine now")).send().await, 403, "forbidden");
    let edited = author
        .client
        .update_note()
        .meeting_id(m.id)
        .note_id(written.id)
        .body(note("# Decisions\n- ship it Friday"))
        .send()
        .await
        .expect("edit")
        .into_inner();
    assert!(edited.updated_at >= edited.created_at);
    expect_error(other.client.delete_note().meeting_id(m.id).note_id(written.id).send().await, 403, "forbidden");
    host.client.delete_note().meeting_id(m.id).note_id(written.id).send().await.expect("a host deletes");
    expect_error(author.client.get_note().meeting_id(m.id).note_id(written.id).send().await, 404, "not_found");
    let own = other.client.create_note().meeting_id(m.id).body(note("mine")).send().await.expect("write").into_inner();
    other.client.delete_note().meeting_id(m.id).note_id(own.id).send().await.expect("an author deletes");
}

#[tokio::test(flavor = "multi_thread")]
async fn notes_list_oldest_first_and_stay_inside_their_meeting() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let (first, second) = (meeting(&host, "One", &[]).await, meeting(&host, "Two", &[]).await);
    for text in ["a", "b", "c"] {
        host.client.create_note().meeting_id(first.id).body(note(text)).send().await.expect("write");
    }
    let page = host.client.list_notes().meeting_id(first.id).send().await.expect("list").into_inner();
    assert_eq!(page.items.iter().map(|n| n.content.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    let foreign = page.items[0].id;
    expect_error(host.client.get_note().meeting_id(second.id).note_id(foreign).send().await, 404, "not_found");
    let stranger = app.register("Stranger").await;
    expect_error(stranger.client.list_notes().meeting_id(first.id).send().await, 404, "not_found");
    expect_error(stranger.client.create_note().meeting_id(first.id).body(note("x")).send().await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_note_holds_at_most_100_kb() {
    let app = TestApp::spawn().await;
    let host = app.register("Host").await;
    let m = meeting(&host, "M", &[]).await;
    let exactly = "x".repeat(102_400);
    host.client.create_note().meeting_id(m.id).body(note(&exactly)).send().await.expect("100 KB fits");
    // 51,201 two-byte characters: inside the schema's character limit, over 100 KB of UTF-8.
    let multibyte = "é".repeat(51_201);
    let response = http()
        .post(app.url(&format!("/api/v1/meetings/{}/notes", m.id)))
        .bearer_auth(&host.access_token)
        .json(&json!({"content": multibyte}))
        .send()
        .await
        .expect("request");
    assert_eq!(expect_raw_error(response, 422, "validation_failed").await["details"]["field"], "content");
    let response = http()
        .post(app.url(&format!("/api/v1/meetings/{}/notes", m.id)))
        .bearer_auth(&host.access_token)
        .json(&json!({"content": ""}))
        .send()
        .await
        .expect("request");
    assert_eq!(expect_raw_error(response, 422, "validation_failed").await["details"]["field"], "content");
}

#[tokio::test(flavor = "multi_thread")]
async fn team_admins_read_notes_but_cannot_write_them() {
    let app = TestApp::spawn().await;
    let (host, admin) = (app.register("Host").await, app.register("Admin").await);
    let m = team_meeting(&host, &admin, "M", &[]).await;
    host.client.create_note().meeting_id(m.id).body(note("visible")).send().await.expect("write");
    assert_eq!(admin.client.list_notes().meeting_id(m.id).send().await.expect("read").into_inner().total, 1);
    expect_error(admin.client.create_note().meeting_id(m.id).body(note("admin")).send().await, 403, "forbidden");
}
