//! Chat history over REST (messages themselves arrive over the signalling socket).

use mit_tests::TestApp;

use crate::expect_error;
use crate::meetings::meeting;

#[tokio::test(flavor = "multi_thread")]
async fn chat_history_is_visible_to_participants_only() {
    let app = TestApp::spawn().await;
    let (host, stranger) = (app.register("Host").await, app.register("Stranger").await);
    let m = meeting(&host, "M", &[]).await;
    let page = host.client.list_chat_messages().meeting_id(m.id).send().await.expect("history").into_inner();
    assert_eq!((page.total, page.items.len()), (0, 0));
    expect_error(stranger.client.list_chat_messages().meeting_id(m.id).send().await, 404, "not_found");
}
