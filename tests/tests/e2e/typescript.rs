//! The frontend path: the typed openapi-fetch client compiled from tests/typescript (by `cargo
//! xtask test`, against types generated from the bundle) registers, creates and reads a meeting,
//! and reads a 404, all checked against the real server.

use std::time::Duration;

use mit_tests::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn the_typed_typescript_client_talks_to_the_server() {
    let app = TestApp::spawn().await;
    let client = mit_tests::service_url("MIT_TEST_TS_CLIENT");
    let node = tokio::process::Command::new("node").arg(&client).arg(&app.base_url).kill_on_drop(true).output();
    // A hung request must fail the test, not stall the suite.
    let run = tokio::time::timeout(Duration::from_secs(60), node).await.expect("the client finishes within 60 s").expect("node starts");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{client} failed ({}):\nstdout: {stdout}\nstderr: {stderr}", run.status);
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("a one-line JSON summary");
    assert_eq!(summary["missing"]["error"], "not_found", "{summary}");
    app.stop().await;
}
