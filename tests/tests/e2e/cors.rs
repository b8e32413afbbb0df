//! Cross-origin access: none without `CORS_ORIGINS`; with it, CORS headers for the listed origins
//! and the API's methods only, and a foreign origin served without them.

use mit_tests::TestApp;
use reqwest::Method;

use crate::http;

const APP: &str = "https://app.example";
const EVIL: &str = "https://evil.example";

async fn preflight(app: &TestApp, origin: &str, method: &str) -> reqwest::Response {
    http()
        .request(Method::OPTIONS, app.url("/api/v1/meetings"))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .send()
        .await
        .expect("preflight")
}

fn allowed_origin(response: &reqwest::Response) -> Option<&str> {
    response.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn without_cors_origins_no_origin_gets_cross_origin_access() {
    let app = TestApp::spawn().await;
    let response = http().get(app.url("/health")).header("origin", EVIL).send().await.expect("health");
    assert_eq!(response.status(), 200);
    assert_eq!(allowed_origin(&response), None);
    for method in ["GET", "TRACE", "CONNECT"] {
        let response = preflight(&app, EVIL, method).await;
        assert_eq!(allowed_origin(&response), None, "{method}");
        assert!(response.headers().get("access-control-allow-methods").is_none(), "{method}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn listed_origins_get_cors_for_the_api_methods_and_others_get_none() {
    let app = TestApp::spawn_with(&[("CORS_ORIGINS", APP)]).await;
    let response = http().get(app.url("/health")).header("origin", APP).send().await.expect("health");
    assert_eq!((response.status().as_u16(), allowed_origin(&response)), (200, Some(APP)));

    let response = preflight(&app, APP, "PATCH").await;
    assert_eq!(allowed_origin(&response), Some(APP));
    let methods = response.headers().get("access-control-allow-methods").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        assert!(methods.contains(method), "{method} in {methods}");
    }
    for method in ["TRACE", "CONNECT"] {
        assert!(!methods.contains(method), "{method} in {methods}");
        let response = preflight(&app, APP, method).await;
        assert!(!response.status().is_success() || allowed_origin(&response).is_none(), "{method} preflight allowed");
    }

    let response = http().get(app.url("/health")).header("origin", EVIL).send().await.expect("health");
    assert_eq!((response.status().as_u16(), allowed_origin(&response)), (200, None), "a foreign origin is served without CORS");
    assert_eq!(allowed_origin(&preflight(&app, EVIL, "GET").await), None);
}
