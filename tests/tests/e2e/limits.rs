//! The request rate limit and login throttling on Redis (`REDIS_URL` set), as a deployment of
//! several nodes runs them: the counters live in Redis, so every node sharing it counts together.
//!
//! Redis is shared by every test of the run; the counters are keyed by user id and by email and
//! address, so each test's fresh users keep its counters to itself.

use mit_tests::{TestApp, TestUser, service_url};
use reqwest::header::RETRY_AFTER;
use serde_json::json;

use crate::{expect_raw_error, http};

/// `RATE_LIMIT_REQUESTS`: authenticated requests per user and window.
const REQUESTS: usize = 3;
/// `LOGIN_MAX_FAILURES`: failed logins per account and address before further ones are refused.
const LOGIN_FAILURES: usize = 2;
/// Both windows are a minute long, so no wait may be longer.
const WINDOW_SECONDS: u64 = 60;

/// A node on Redis with small limits, and its own database unless `database_url` names one.
async fn node(database_url: Option<&str>) -> TestApp {
    let (redis, requests, failures) = (service_url("MIT_TEST_REDIS_URL"), REQUESTS.to_string(), LOGIN_FAILURES.to_string());
    let minutes = (WINDOW_SECONDS / 60).to_string();
    let mut env = vec![
        ("REDIS_URL", redis.as_str()),
        ("RATE_LIMIT_REQUESTS", requests.as_str()),
        ("RATE_LIMIT_WINDOW_MINUTES", minutes.as_str()),
        ("LOGIN_MAX_FAILURES", failures.as_str()),
        ("LOGIN_WINDOW_MINUTES", minutes.as_str()),
    ];
    env.extend(database_url.map(|url| ("DATABASE_URL", url)));
    TestApp::spawn_with(&env).await
}

/// Two nodes of one deployment: one database, one Redis (each still has its own process state).
async fn two_nodes() -> (TestApp, TestApp) {
    let first = node(None).await;
    let second = node(Some(&first.database_url)).await;
    (first, second)
}

/// An authenticated request (each one counts against the user's limit).
async fn me(app: &TestApp, user: &TestUser) -> reqwest::Response {
    http().get(app.url("/api/v1/auth/me")).bearer_auth(&user.access_token).send().await.expect("a request")
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    http().post(app.url("/api/v1/auth/login")).json(&json!({"email": email, "password": password})).send().await.expect("a login")
}

/// Asserts the contract's 429: `rate_limited` with `Retry-After` (whole seconds within the
/// window) and the same number in `details.retry_after_seconds`.
async fn expect_limited(response: reqwest::Response, what: &str) {
    let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let retry_after =
        retry_after.unwrap_or_else(|| panic!("{what}: a 429 with Retry-After, got {} {:?}", response.status(), response.headers()));
    assert!((1..=WINDOW_SECONDS).contains(&retry_after), "{what}: Retry-After {retry_after}");
    let body = expect_raw_error(response, 429, "rate_limited").await;
    assert_eq!(body["details"]["retry_after_seconds"], retry_after, "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_request_after_the_limit_is_refused_with_retry_after() {
    let app = node(None).await;
    let (ada, bob) = (app.register("Ada").await, app.register("Bob").await);
    for n in 1..=REQUESTS {
        assert_eq!(me(&app, &ada).await.status(), 200, "request {n} of {REQUESTS} is allowed");
    }
    expect_limited(me(&app, &ada).await, "the request after the limit").await;
    expect_limited(me(&app, &ada).await, "and the next").await;
    // The limit is per user.
    assert_eq!(me(&app, &bob).await.status(), 200, "another user is not limited");
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_sharing_redis_count_one_users_requests_together() {
    let (first, second) = two_nodes().await;
    let ada = first.register("Ada").await;
    // Two requests on one node and one on the other: each node alone has seen fewer than the
    // limit, so a refusal can only come from a counter the nodes share.
    for (n, app) in [&first, &second, &first].into_iter().enumerate() {
        assert_eq!(me(app, &ada).await.status(), 200, "request {} of {REQUESTS} is allowed", n + 1);
    }
    expect_limited(me(&second, &ada).await, "the node that saw one request refuses the fourth").await;
    expect_limited(me(&first, &ada).await, "and so does the other").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_logins_are_counted_across_nodes_and_a_success_clears_them() {
    let (first, second) = two_nodes().await;
    let (ada, bob) = (first.register("Ada").await, first.register("Bob").await);

    // One failure on each node, a success in between: the success clears the count, or this
    // success would already be refused.
    fail_login(&first, &ada).await;
    assert_eq!(login(&second, &ada.email, &ada.password).await.status(), 200, "one failure does not lock");
    fail_login(&second, &ada).await;
    assert_eq!(login(&first, &ada.email, &ada.password).await.status(), 200, "the earlier success cleared the count");

    // The limit's worth of failures, spread over both nodes: the account is locked for this
    // address on both, even for the right password.
    for n in 0..LOGIN_FAILURES {
        fail_login([&first, &second][n % 2], &ada).await;
    }
    expect_limited(login(&first, &ada.email, &ada.password).await, "the right password after the failures").await;
    expect_limited(login(&second, &ada.email, &ada.password).await, "on the other node too").await;
    assert_eq!(login(&second, &bob.email, &bob.password).await.status(), 200, "another account is not affected");
}

/// A login with the wrong password, refused as the contract says (not yet throttled).
async fn fail_login(app: &TestApp, user: &TestUser) {
    expect_raw_error(login(app, &user.email, "wrong password").await, 401, "invalid_credentials").await;
}
