//! Request ids and the request span: every response carries `X-Request-Id` (the client's when
//! sane), every error body has it in `details.request_id`, and `LOG_FORMAT=json` logs each
//! request with its id, operation, caller, status and latency.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use mit_tests::{TEST_JWT_SECRET, TestApp, fresh_database, server_binary};
use serde_json::Value;

use crate::http;

fn request_id(response: &reqwest::Response) -> Option<String> {
    response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_response_and_error_body_carries_the_request_id() {
    let app = TestApp::spawn().await;
    let response = http().get(app.url("/api/v1/auth/me")).send().await.expect("request");
    let generated = request_id(&response).expect("a generated id");
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["details"]["request_id"].as_str(), Some(generated.as_str()), "{body}");

    let response = http().get(app.url("/health")).header("x-request-id", "client-7.a:b_c").send().await.expect("health");
    assert_eq!(request_id(&response).as_deref(), Some("client-7.a:b_c"), "a sane id is kept");

    for odd in ["with space", "semi;colon", &"x".repeat(129)] {
        let response = http().get(app.url("/api/v1/meetings/not-a-uuid")).header("x-request-id", odd).send().await.expect("request");
        let id = request_id(&response).expect("an id");
        assert_ne!(id, odd, "an odd id is replaced");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["details"]["request_id"].as_str(), Some(id.as_str()), "{body}");
    }
    let response = http().get(app.url("/no/such/route")).send().await.expect("request");
    let id = request_id(&response).expect("an id on a routing 404");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["details"]["request_id"].as_str(), Some(id.as_str()), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_show_each_request_with_its_id_operation_and_caller() {
    let database_url = fresh_database().await;
    let recordings = tempfile::tempdir().expect("a recording directory");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let mut child = Command::new(server_binary())
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs([
            ("DATABASE_URL", database_url.as_str()),
            ("JWT_SECRET_KEY", TEST_JWT_SECRET),
            ("RECORDING_PATH", &recordings.path().display().to_string()),
            ("HOST", "127.0.0.1"),
            ("PORT", &port.to_string()),
            ("RTC_UDP_PORT", "0"),
            ("RTC_TCP_PORT", "0"),
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "warn,mit::request=info,mit::access=info"),
        ])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("the mit binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    mit_tests::eventually(Duration::from_secs(20), "the server answers", || async {
        http().get(format!("{base}/health")).send().await.ok().filter(|r| r.status().is_success()).map(|_| ())
    })
    .await;
    let response = http()
        .post(format!("{base}/api/v1/auth/register"))
        .header("x-request-id", "trace-me-1")
        .json(&serde_json::json!({"email": "trace@example.com", "password": "correct horse battery", "name": "Trace"}))
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), 201);
    let token = response.json::<Value>().await.expect("json")["tokens"]["access_token"].as_str().expect("a token").to_string();
    let me =
        http().get(format!("{base}/api/v1/auth/me")).bearer_auth(&token).header("x-request-id", "trace-me-2").send().await.expect("me");
    let user_id = me.json::<Value>().await.expect("json")["id"].as_str().expect("an id").to_string();

    let register = wait_for_line(&lines, "trace-me-1");
    assert_eq!(register["span"]["operation_id"], "registerUser", "{register}");
    assert_eq!(register["fields"]["status"], 201, "{register}");
    assert!(register["fields"]["latency_ms"].is_number(), "{register}");
    let me = wait_for_line(&lines, "trace-me-2");
    assert_eq!(
        (me["span"]["operation_id"].as_str(), me["span"]["caller"].as_str()),
        (Some("getCurrentUser"), Some(user_id.as_str())),
        "{me}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// The access line of request `id`.
fn wait_for_line(lines: &std::sync::mpsc::Receiver<String>, id: &str) -> Value {
    loop {
        let line = lines.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| panic!("no log line for request {id}"));
        let Ok(entry) = serde_json::from_str::<Value>(&line) else { continue };
        if entry["target"] == "mit::access" && entry["span"]["request_id"] == id {
            return entry;
        }
    }
}
