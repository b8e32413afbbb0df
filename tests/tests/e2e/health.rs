//! Probes, the served spec, the docs UIs, metrics and security headers.

use mit_tests::TestApp;

use crate::{expect_raw_error, http};

#[tokio::test(flavor = "multi_thread")]
async fn liveness_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let health = app.client().get_health().send().await.expect("health").into_inner();
    assert_eq!(health.status.to_string(), "ok");
    let ready = app.client().get_readiness().send().await.expect("ready").into_inner();
    assert_eq!(ready.status.to_string(), "ok");
    assert!(ready.checks.iter().any(|c| c.name == "database" && c.status.to_string() == "ok"), "{ready:?}");
    assert!(ready.checks.iter().any(|c| c.name == "object_store" && c.status.to_string() == "ok"), "{ready:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_checks_s3_and_says_when_it_is_down() {
    let env = mit_tests::s3_env(None);
    let overrides: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(&overrides).await;
    let ready = app.client().get_readiness().send().await.expect("ready").into_inner();
    assert!(ready.checks.iter().any(|c| c.name == "object_store" && c.status.to_string() == "ok"), "{ready:?}");

    let down = TestApp::spawn_with(&[
        ("S3_ENDPOINT", "http://127.0.0.1:9"),
        ("S3_BUCKET", "nowhere"),
        ("S3_ACCESS_KEY", "k"),
        ("S3_SECRET_KEY", "s"),
    ])
    .await;
    let response = http().get(down.url("/ready")).send().await.expect("ready");
    let body = expect_raw_error(response, 503, "service_unavailable").await;
    assert!(body["message"].as_str().is_some_and(|m| m.contains("object_store")), "the failing dependency is named: {body}");
    down.client().get_health().send().await.expect("still alive and serving");
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_checks_redis_when_configured() {
    let redis = mit_tests::service_url("MIT_TEST_REDIS_URL");
    let app = TestApp::spawn_with(&[("REDIS_URL", &redis)]).await;
    let ready = app.client().get_readiness().send().await.expect("ready").into_inner();
    assert!(ready.checks.iter().any(|c| c.name == "redis" && c.status.to_string() == "ok"), "{ready:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_served_spec_is_the_committed_contract_bundle() {
    let app = TestApp::spawn().await;
    let response = http().get(app.url("/openapi.json")).send().await.expect("spec");
    assert!(response.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("application/json")));
    let served: serde_json::Value = response.json().await.expect("json");
    let bundle = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../api-contract/openapi.bundled.json")).expect("bundle");
    assert_eq!(served, serde_json::from_str::<serde_json::Value>(&bundle).expect("json"));
    assert!(served.pointer("/paths/~1api~1v1~1meetings/post/responses/201/links/getMeeting").is_some(), "links are served");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_docs_uis_and_metrics_are_served() {
    let app = TestApp::spawn().await;
    for path in ["/docs", "/redoc"] {
        let response = http().get(app.url(path)).send().await.expect("request");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let page = response.text().await.expect("html");
        assert!(page.contains("<html") || page.contains("<!DOCTYPE"), "{path} serves a page");
    }
    app.client().get_health().send().await.expect("health");
    let metrics = http().get(app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("http_requests_total"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_responses_carry_security_headers() {
    let app = TestApp::spawn().await;
    let response = http().get(app.url("/api/v1/auth/me")).send().await.expect("request");
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");
    assert!(header("content-security-policy").contains("default-src 'none'"));
    assert_eq!(header("cache-control"), "no-store");
}
