//! Operations without an implementation answer 501 `not_implemented` through the generated path.
//! `tests/not-implemented.txt` lists exactly which; it may only shrink.

use std::collections::BTreeSet;

use mit_api::server::OPERATIONS;
use mit_tests::TestApp;

use crate::contract_requests::{bundle, probe};
use crate::http;

fn listed() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/not-implemented.txt");
    let text = std::fs::read_to_string(path).expect("tests/not-implemented.txt");
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn exactly_the_listed_operations_answer_501() {
    let app = TestApp::spawn().await;
    let user = app.register("Prober").await;
    let doc = bundle();
    let mut operations: Vec<_> = OPERATIONS.iter().collect();
    // Signing out would end the prober's session for the operations after it.
    operations.sort_by_key(|op| op.id == "logout");
    let mut answering_501 = BTreeSet::new();
    for op in operations {
        let probe = probe(&doc, op);
        let method = reqwest::Method::from_bytes(op.method.as_bytes()).expect("method");
        let mut request = http().request(method, app.url(&probe.path)).query(&probe.query);
        if op.secured {
            request = request.bearer_auth(&user.access_token);
        }
        if let Some(body) = &probe.body {
            request = request.json(body);
        }
        let status = request.send().await.expect("request").status().as_u16();
        if status == 501 {
            answering_501.insert(op.id.to_string());
        }
    }
    let listed = listed();
    let newly_implemented: Vec<_> = listed.difference(&answering_501).collect();
    let unlisted: Vec<_> = answering_501.difference(&listed).collect();
    assert!(unlisted.is_empty(), "these answer 501 but are not in tests/not-implemented.txt: {unlisted:?}");
    assert!(newly_implemented.is_empty(), "these are implemented now; remove them from tests/not-implemented.txt: {newly_implemented:?}");
}
