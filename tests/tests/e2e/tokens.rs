//! Every way a bearer token can be wrong gets 401 `unauthenticated` with `WWW-Authenticate`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use mit_tests::{TEST_JWT_SECRET, TestApp};
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use serde_json::json;

use crate::{expect_raw_error, http};

/// Sends `GET /api/v1/auth/me` with `authorization` and checks the 401.
async fn refused(app: &TestApp, authorization: Option<String>) -> String {
    let mut request = http().get(app.url("/api/v1/auth/me"));
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    let response = request.send().await.expect("request");
    let challenge = response.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(challenge.starts_with("Bearer"), "WWW-Authenticate: {challenge:?}");
    expect_raw_error(response, 401, "unauthenticated").await;
    challenge
}

fn claims(user: uuid::Uuid, session: uuid::Uuid, exp: i64, aud: &str) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": user, "sid": session, "iat": now, "exp": exp, "iss": "mit", "aud": aud})
}

fn sign(claims: &serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(&Header::default(), claims, &EncodingKey::from_secret(secret.as_bytes())).expect("sign")
}

/// The user and session ids inside a real access token.
fn ids_of(token: &str) -> (uuid::Uuid, uuid::Uuid) {
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json");
    (claims["sub"].as_str().expect("sub").parse().expect("uuid"), claims["sid"].as_str().expect("sid").parse().expect("uuid"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_malformed_authorization_header_is_refused() {
    let app = TestApp::spawn().await;
    refused(&app, None).await;
    refused(&app, Some("Bearer".into())).await;
    refused(&app, Some("Basic YWRhOnBhc3N3b3Jk".into())).await;
    let challenge = refused(&app, Some("Bearer not.a.jwt".into())).await;
    assert!(challenge.contains("invalid_token"), "{challenge}");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_tampered_foreign_and_unsigned_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let ada = app.register("Ada").await;
    let (user, session) = ids_of(&ada.access_token);
    let hour_ago = chrono::Utc::now().timestamp() - 3600;
    let in_an_hour = chrono::Utc::now().timestamp() + 3600;

    let expired = sign(&claims(user, session, hour_ago, "mit-api"), TEST_JWT_SECRET);
    refused(&app, Some(format!("Bearer {expired}"))).await;

    let wrong_key = sign(&claims(user, session, in_an_hour, "mit-api"), "some-other-secret-0123456789abcdefghij");
    refused(&app, Some(format!("Bearer {wrong_key}"))).await;

    let mut parts: Vec<String> = ada.access_token.split('.').map(str::to_string).collect();
    let mut payload: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("b64")).expect("json");
    payload["sub"] = json!(uuid::Uuid::new_v4());
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    refused(&app, Some(format!("Bearer {}", parts.join(".")))).await;

    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let none_payload = URL_SAFE_NO_PAD.encode(claims(user, session, in_an_hour, "mit-api").to_string());
    refused(&app, Some(format!("Bearer {none_header}.{none_payload}."))).await;

    let room_token = sign(
        &json!({"sub": user, "mid": uuid::Uuid::new_v4(), "iat": 0, "exp": in_an_hour, "iss": "mit", "aud": "mit-room"}),
        TEST_JWT_SECRET,
    );
    refused(&app, Some(format!("Bearer {room_token}"))).await;

    let forged_session = sign(&claims(user, uuid::Uuid::new_v4(), in_an_hour, "mit-api"), TEST_JWT_SECRET);
    refused(&app, Some(format!("Bearer {forged_session}"))).await;

    // The genuine token still works.
    ada.client.get_current_user().send().await.expect("genuine token");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_says_it_expired() {
    let app = TestApp::spawn().await;
    let ada = app.register("Ada").await;
    let (user, session) = ids_of(&ada.access_token);
    let expired = sign(&claims(user, session, chrono::Utc::now().timestamp() - 3600, "mit-api"), TEST_JWT_SECRET);
    let response = http().get(app.url("/api/v1/auth/me")).bearer_auth(expired).send().await.expect("request");
    let body = expect_raw_error(response, 401, "unauthenticated").await;
    assert!(body["message"].as_str().is_some_and(|m| m.contains("expired")), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_per_user_request_limit_answers_429_with_retry_after() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_REQUESTS", "3"), ("RATE_LIMIT_WINDOW_MINUTES", "15")]).await;
    let ada = app.register("Ada").await;
    for _ in 0..3 {
        ada.client.get_current_user().send().await.expect("within the limit");
    }
    let response = http().get(app.url("/api/v1/auth/me")).bearer_auth(&ada.access_token).send().await.expect("request");
    assert!(response.headers().contains_key("retry-after"));
    expect_raw_error(response, 429, "rate_limited").await;
}
