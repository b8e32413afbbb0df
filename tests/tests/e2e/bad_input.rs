//! Every operation, probed from the contract alone, answers bad input as it declares: 401 (with
//! `WWW-Authenticate`) without a token, 422 naming a malformed path parameter, 400 for a body that
//! is not JSON, 422 for one that breaks the schema, 413 for one over the limit.

use mit_api::server::OPERATIONS;
use mit_api::server::runtime::OperationInfo;
use mit_tests::{TestApp, TestUser};
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};

use crate::contract_requests::{Probe, bundle, probe};
use crate::{expect_raw_error, http};

/// The body limit of the probed server: small, so a too-large body is cheap to send.
const BODY_LIMIT: usize = 4096;

fn request(app: &TestApp, op: &OperationInfo, path: &str, probe: &Probe, token: Option<&str>) -> reqwest::RequestBuilder {
    let method = reqwest::Method::from_bytes(op.method.as_bytes()).expect("method");
    let request = http().request(method, app.url(path)).query(&probe.query);
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

async fn unauthenticated(app: &TestApp, op: &OperationInfo, probe: &Probe) {
    let mut unsigned = request(app, op, &probe.path, probe, None);
    if let Some(body) = &probe.body {
        unsigned = unsigned.json(body);
    }
    let response = unsigned.send().await.expect("request");
    let challenge = response.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(challenge.starts_with("Bearer"), "{}: WWW-Authenticate is `{challenge}`", op.id);
    expect_raw_error(response, 401, "unauthenticated").await;
}

async fn malformed_path(app: &TestApp, op: &OperationInfo, probe: &Probe, token: Option<&str>) {
    let Some(name) = probe.uuid_params.first() else { return };
    let path = probe.path_with(Some((name, "not-a-uuid")));
    let mut call = request(app, op, &path, probe, token);
    if let Some(body) = &probe.body {
        call = call.json(body);
    }
    let error = expect_raw_error(call.send().await.expect("request"), 422, "validation_failed").await;
    assert_eq!(error["details"]["field"], name.as_str(), "{}: {error}", op.id);
}

async fn bad_bodies(app: &TestApp, op: &OperationInfo, probe: &Probe, token: Option<&str>) {
    let declared = |status| probe.declared.contains(&status);
    let raw = |text: String| request(app, op, &probe.path, probe, token).header(CONTENT_TYPE, "application/json").body(text);
    if declared(400) {
        expect_raw_error(raw("{\"unterminated".into()).send().await.expect("request"), 400, "malformed_request").await;
    }
    if declared(422) {
        expect_raw_error(raw("[1, 2]".into()).send().await.expect("request"), 422, "validation_failed").await;
    }
    if declared(413) {
        let oversized = format!("\"{}\"", "x".repeat(BODY_LIMIT + 1));
        expect_raw_error(raw(oversized).send().await.expect("request"), 413, "payload_too_large").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_answers_bad_input_as_it_declares() {
    let limit = BODY_LIMIT.to_string();
    let app = TestApp::spawn_with(&[("MAX_BODY_BYTES", &limit)]).await;
    let doc = bundle();
    for op in OPERATIONS {
        let probe = probe(&doc, op);
        // A user per operation: signing out or deleting the account ends the session it used.
        let user: Option<TestUser> = if op.secured { Some(app.register("Prober").await) } else { None };
        let token = user.as_ref().map(|u| u.access_token.as_str());
        if op.secured && probe.declared.contains(&401) {
            unauthenticated(&app, op, &probe).await;
        }
        if probe.declared.contains(&422) {
            malformed_path(&app, op, &probe, token).await;
        }
        if probe.body.is_some() {
            bad_bodies(&app, op, &probe, token).await;
        }
    }
}
