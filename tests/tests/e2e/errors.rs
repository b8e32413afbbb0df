//! Bad input of every kind answers in the contract's error shape, naming the field.

use mit_tests::TestApp;
use reqwest::header::{ALLOW, CONTENT_TYPE};
use serde_json::json;

use crate::{expect_raw_error, http};

async fn register_raw(app: &TestApp, body: &str, content_type: &str) -> reqwest::Response {
    http().post(app.url("/api/v1/auth/register")).header(CONTENT_TYPE, content_type).body(body.to_string()).send().await.expect("request")
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_and_a_wrong_content_type_are_400() {
    let app = TestApp::spawn().await;
    expect_raw_error(register_raw(&app, "{\"email\": ", "application/json").await, 400, "malformed_request").await;
    expect_raw_error(register_raw(&app, "email=a@b.c", "application/x-www-form-urlencoded").await, 400, "malformed_request").await;
    let missing = http().post(app.url("/api/v1/auth/register")).body("{}").send().await.expect("request");
    expect_raw_error(missing, 400, "malformed_request").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_violations_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({"email": "a@example.com", "password": "long enough"}), "name"),
        (json!({"email": "a@example.com", "password": "long enough", "name": 5}), "name"),
        (json!({"email": "a@example.com", "password": "long enough", "name": null}), "name"),
        (json!({"email": "a@example.com", "password": "long enough", "name": ""}), "name"),
        (json!({"email": "a@example.com", "password": "long enough", "name": "x".repeat(101)}), "name"),
        (json!({"email": "not an email", "password": "long enough", "name": "Ada"}), "email"),
        (json!({"email": "a@example.com", "password": "short", "name": "Ada"}), "password"),
        (json!({"email": "a@example.com", "password": 12345678, "name": "Ada"}), "password"),
        (json!({"email": "a@example.com", "password": "long enough", "name": "   "}), "name"),
        (json!({"email": "a@example.com", "password": "long enough", "name": "Ada\u{0}"}), "name"),
    ];
    for (body, field) in cases {
        let response = register_raw(&app, &body.to_string(), "application/json").await;
        let error = expect_raw_error(response, 422, "validation_failed").await;
        assert_eq!(error["details"]["field"], field, "for {body}: {error}");
    }
    let not_an_object = register_raw(&app, "[1, 2]", "application/json").await;
    expect_raw_error(not_an_object, 422, "validation_failed").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_over_the_limit_is_413() {
    let app = TestApp::spawn_with(&[("MAX_BODY_BYTES", "4096")]).await;
    let body = json!({"email": "a@example.com", "password": "long enough", "name": "x".repeat(5000)});
    expect_raw_error(register_raw(&app, &body.to_string(), "application/json").await, 413, "payload_too_large").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_are_404_and_wrong_methods_405_with_allow() {
    let app = TestApp::spawn().await;
    let missing = http().get(app.url("/api/v1/nothing-here")).send().await.expect("request");
    expect_raw_error(missing, 404, "not_found").await;
    let wrong_method = http().delete(app.url("/api/v1/auth/login")).send().await.expect("request");
    assert_eq!(wrong_method.headers().get(ALLOW).and_then(|v| v.to_str().ok()), Some("POST"));
    expect_raw_error(wrong_method, 405, "method_not_allowed").await;
    let templated = http().put(app.url(&format!("/api/v1/users/{}", uuid::Uuid::new_v4()))).send().await.expect("request");
    assert_eq!(templated.headers().get(ALLOW).and_then(|v| v.to_str().ok()), Some("GET"));
    expect_raw_error(templated, 405, "method_not_allowed").await;
    // A literal route shadows the template beside it, as in the router.
    let literal = http().get(app.url("/api/v1/users/me")).send().await.expect("request");
    assert_eq!(literal.headers().get(ALLOW).and_then(|v| v.to_str().ok()), Some("PATCH"));
    expect_raw_error(literal, 405, "method_not_allowed").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_parameters_are_422_naming_them() {
    let app = TestApp::spawn().await;
    let ada = app.register("Ada").await;
    let cases = [
        ("/api/v1/users/not-a-uuid".to_string(), "user_id"),
        ("/api/v1/users?q=ada&page=0".to_string(), "page"),
        ("/api/v1/users?q=ada&limit=101".to_string(), "limit"),
        ("/api/v1/users?q=ada&page=two".to_string(), "page"),
        ("/api/v1/users".to_string(), "q"),
        ("/api/v1/users/lookup?email=nope".to_string(), "email"),
        ("/api/v1/users?q=%00".to_string(), "q"),
        ("/api/v1/users?q=%20%20".to_string(), "q"),
    ];
    for (path, field) in cases {
        let response = http().get(app.url(&path)).bearer_auth(&ada.access_token).send().await.expect("request");
        let error = expect_raw_error(response, 422, "validation_failed").await;
        assert_eq!(error["details"]["field"], field, "for {path}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unauthenticated_request_with_a_bad_body_is_still_401() {
    let app = TestApp::spawn().await;
    let response = http()
        .put(app.url("/api/v1/auth/password"))
        .header(CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 401);
}
