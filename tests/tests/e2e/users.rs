//! Profiles, lookup by email and search by name.

use mit_client::types;
use mit_tests::TestApp;
use serde_json::json;

use crate::{expect_error, expect_raw_error, http};

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_can_be_renamed_and_its_avatar_set_and_removed() {
    let app = TestApp::spawn().await;
    let ada = app.register("Ada").await;
    let updated = ada
        .client
        .update_profile()
        .body(
            types::UpdateProfileRequest::builder()
                .name(Some("Ada L.".try_into().expect("name")))
                .avatar_url(Some("https://example.com/ada.png".try_into().expect("uri"))),
        )
        .send()
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.name.as_str(), "Ada L.");
    assert_eq!(updated.avatar_url.as_deref().map(String::as_str), Some("https://example.com/ada.png"));
    assert!(updated.updated_at >= updated.created_at);

    let cleared = http()
        .patch(app.url("/api/v1/users/me"))
        .bearer_auth(&ada.access_token)
        .json(&json!({"avatar_url": null}))
        .send()
        .await
        .expect("request");
    assert_eq!(cleared.status().as_u16(), 200);
    let cleared: serde_json::Value = cleared.json().await.expect("json");
    assert!(cleared.get("avatar_url").is_none(), "{cleared}");
    assert_eq!(cleared["name"], "Ada L.");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_profile_change_is_422() {
    let app = TestApp::spawn().await;
    let ada = app.register("Ada").await;
    for (body, field) in [
        (json!({"avatar_url": "javascript:alert(1)"}), "avatar_url"),
        (json!({"avatar_url": "not a url"}), "avatar_url"),
        (json!({"avatar_url": "https://aK<e"}), "avatar_url"),
        (json!({"avatar_url": "https://user@example.com/a.png"}), "avatar_url"),
        (json!({"name": ""}), "name"),
        (json!({"name": "  "}), "name"),
        (json!({"name": null}), "name"),
    ] {
        let response = http().patch(app.url("/api/v1/users/me")).bearer_auth(&ada.access_token).json(&body).send().await.expect("request");
        let error = expect_raw_error(response, 422, "validation_failed").await;
        assert_eq!(error["details"]["field"], field, "for {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn users_are_found_by_exact_email_without_revealing_it() {
    let app = TestApp::spawn().await;
    let ada = app.register("Ada").await;
    let bob = app.register("Bob").await;
    let found = bob.client.lookup_user_by_email().email(ada.email.to_uppercase()).send().await.expect("lookup").into_inner();
    assert_eq!(found.id, ada.id);
    assert_eq!(found.name.as_str(), "Ada");
    let raw: serde_json::Value = http()
        .get(app.url(&format!("/api/v1/users/{}", ada.id)))
        .bearer_auth(&bob.access_token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert!(raw.get("email").is_none(), "summaries carry no email: {raw}");
    expect_error(bob.client.lookup_user_by_email().email("nobody@example.com").send().await, 404, "not_found");
    expect_error(bob.client.get_user().user_id(uuid::Uuid::new_v4()).send().await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn search_by_name_is_case_insensitive_paginated_and_literal() {
    let app = TestApp::spawn().await;
    let searcher = app.register("Searcher").await;
    for name in ["Grace Hopper", "grace kelly", "Gracey", "Alan Turing", "100% Grace_"] {
        app.register(name).await;
    }
    let page = |q: &str, page: i32, limit: i32| {
        searcher
            .client
            .search_users()
            .q(q)
            .page(std::num::NonZeroU32::new(page as u32).expect("page"))
            .limit(std::num::NonZeroU32::new(limit as u32).expect("limit"))
            .send()
    };
    let first = page("GRACE", 1, 2).await.expect("search").into_inner();
    assert_eq!(first.total, 4);
    assert_eq!((first.page.get(), first.limit.get()), (1, 2));
    let names: Vec<String> = first.items.iter().map(|u| u.name.to_string()).collect();
    assert_eq!(names, ["100% Grace_", "Grace Hopper"]);
    let second = page("grace", 2, 2).await.expect("search").into_inner();
    let names: Vec<String> = second.items.iter().map(|u| u.name.to_string()).collect();
    assert_eq!(names, ["Gracey", "grace kelly"]);
    assert_eq!(page("%", 1, 20).await.expect("search").into_inner().total, 1, "% matches literally");
    assert_eq!(page("e_", 1, 20).await.expect("search").into_inner().total, 1, "_ matches literally");
    assert!(page("grace", 3, 2).await.expect("search").into_inner().items.is_empty());
}
