//! Registration, sign-in, token rotation, sign-out, password change and account deletion.

use mit_client::types;
use mit_tests::TestApp;
use reqwest::header::RETRY_AFTER;

use crate::{expect_error, expect_raw_error, http};

#[tokio::test(flavor = "multi_thread")]
async fn registering_signs_in_with_a_lower_cased_email() {
    let app = TestApp::spawn().await;
    let response = app
        .client()
        .register_user()
        .body(types::RegisterRequest::builder().email("Ada.Lovelace@Example.COM").name("  Ada  ").password("analytical engine"))
        .send()
        .await
        .expect("registration");
    assert_eq!(response.status().as_u16(), 201);
    let auth = response.into_inner();
    assert_eq!(auth.user.email.as_str(), "ada.lovelace@example.com");
    assert_eq!(auth.user.name.as_str(), "Ada");
    assert_eq!(auth.tokens.expires_in.get(), 1800);
    assert_eq!(auth.tokens.refresh_expires_in.get(), 7 * 86_400);
    let me = app.client_with_token(&auth.tokens.access_token).get_current_user().send().await.expect("me").into_inner();
    assert_eq!(me.id, auth.user.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_can_only_be_registered_once_whatever_its_case() {
    let app = TestApp::spawn().await;
    let ada = app.register("Ada").await;
    let again = app
        .client()
        .register_user()
        .body(types::RegisterRequest::builder().email(ada.email.to_uppercase()).name("Other").password("another password"))
        .send()
        .await;
    expect_error(again, 409, "email_taken");
}

#[tokio::test(flavor = "multi_thread")]
async fn login_checks_the_password_without_telling_which_part_was_wrong() {
    let app = TestApp::spawn().await;
    let ada = app.register("Ada").await;
    let anonymous = app.client();
    let login = |email: String, password: &str| {
        anonymous.login().body(types::LoginRequest::builder().email(email).password(password.to_string())).send()
    };
    let ok = login(ada.email.to_uppercase(), &ada.password).await.expect("login").into_inner();
    assert_eq!(ok.user.id, ada.id);
    let wrong_password = expect_error(login(ada.email.clone(), "wrong password").await, 401, "invalid_credentials");
    let unknown_email = expect_error(login("nobody@example.com".into(), &ada.password).await, 401, "invalid_credentials");
    assert_eq!(wrong_password.message, unknown_email.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn five_failed_logins_lock_the_account_for_this_address() {
    let app = TestApp::spawn().await;
    let ada = app.register("Ada").await;
    let bob = app.register("Bob").await;
    for _ in 0..5 {
        let attempt = app.client().login().body(types::LoginRequest::builder().email(ada.email.clone()).password("guess")).send().await;
        expect_error(attempt, 401, "invalid_credentials");
    }
    let body = serde_json::json!({"email": ada.email, "password": ada.password});
    let locked = http().post(app.url("/api/v1/auth/login")).json(&body).send().await.expect("request");
    let retry_after: u64 =
        locked.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=900).contains(&retry_after), "Retry-After {retry_after}");
    let error = expect_raw_error(locked, 429, "rate_limited").await;
    assert_eq!(error["details"]["retry_after_seconds"], retry_after);
    // Another account from the same address is not affected.
    app.client()
        .login()
        .body(types::LoginRequest::builder().email(bob.email.clone()).password(bob.password.clone()))
        .send()
        .await
        .expect("bob signs in");
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_whole_session() {
    let app = TestApp::spawn().await;
    let ada = app.register("Ada").await;
    let anonymous = app.client();
    let refresh = |token: String| anonymous.refresh_tokens().body(types::RefreshRequest::builder().refresh_token(token)).send();
    let second = refresh(ada.refresh_token.clone()).await.expect("first rotation").into_inner();
    assert_ne!(second.refresh_token, ada.refresh_token);
    app.client_with_token(&second.access_token).get_current_user().send().await.expect("the new access token works");
    // The spent token comes back: the session (family) is revoked, descendants included.
    expect_error(refresh(ada.refresh_token.clone()).await, 401, "unauthenticated");
    expect_error(refresh(second.refresh_token.clone()).await, 401, "unauthenticated");
    expect_error(app.client_with_token(&second.access_token).get_current_user().send().await, 401, "unauthenticated");
    expect_error(ada.client.get_current_user().send().await, 401, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_refresh_token_is_refused() {
    let app = TestApp::spawn().await;
    let attempt = app.client().refresh_tokens().body(types::RefreshRequest::builder().refresh_token("not-a-token")).send().await;
    expect_error(attempt, 401, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_ends_the_access_and_the_refresh_token_of_the_session() {
    let app = TestApp::spawn().await;
    let ada = app.register("Ada").await;
    let other = app
        .client()
        .login()
        .body(types::LoginRequest::builder().email(ada.email.clone()).password(ada.password.clone()))
        .send()
        .await
        .expect("login")
        .into_inner();
    let status = ada.client.logout().send().await.expect("logout").status();
    assert_eq!(status.as_u16(), 204);
    expect_error(ada.client.get_current_user().send().await, 401, "unauthenticated");
    let refresh =
        app.client().refresh_tokens().body(types::RefreshRequest::builder().refresh_token(ada.refresh_token.clone())).send().await;
    expect_error(refresh, 401, "unauthenticated");
    // Only that session ends.
    app.client_with_token(&other.tokens.access_token).get_current_user().send().await.expect("the other session lives");
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    let app = TestApp::spawn().await;
    let ada = app.register("Ada").await;
    let anonymous = app.client();
    let login =
        |password: String| anonymous.login().body(types::LoginRequest::builder().email(ada.email.clone()).password(password)).send();
    let other = login(ada.password.clone()).await.expect("second session").into_inner();
    let change = |current: &str| {
        ada.client
            .change_password()
            .body(types::ChangePasswordRequest::builder().current_password(current.to_string()).new_password("a brand new password"))
            .send()
    };
    expect_error(change("wrong").await, 403, "wrong_password");
    assert_eq!(change(&ada.password).await.expect("change").status().as_u16(), 204);
    ada.client.get_current_user().send().await.expect("this session stays signed in");
    expect_error(app.client_with_token(&other.tokens.access_token).get_current_user().send().await, 401, "unauthenticated");
    let refresh =
        app.client().refresh_tokens().body(types::RefreshRequest::builder().refresh_token(other.tokens.refresh_token)).send().await;
    expect_error(refresh, 401, "unauthenticated");
    expect_error(login(ada.password.clone()).await, 401, "invalid_credentials");
    login("a brand new password".into()).await.expect("the new password works");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_account_is_gone_and_its_email_free_again() {
    let app = TestApp::spawn().await;
    let ada = app.register("Ada").await;
    let delete =
        |password: &str| ada.client.delete_account().body(types::DeleteAccountRequest::builder().password(password.to_string())).send();
    expect_error(delete("wrong").await, 403, "wrong_password");
    assert_eq!(delete(&ada.password).await.expect("delete").status().as_u16(), 204);
    expect_error(ada.client.get_current_user().send().await, 401, "unauthenticated");
    let login =
        app.client().login().body(types::LoginRequest::builder().email(ada.email.clone()).password(ada.password.clone())).send().await;
    expect_error(login, 401, "invalid_credentials");
    let bob = app.register("Bob").await;
    expect_error(bob.client.get_user().user_id(ada.id).send().await, 404, "not_found");
    app.client()
        .register_user()
        .body(types::RegisterRequest::builder().email(ada.email.clone()).name("Ada again").password("yet another password"))
        .send()
        .await
        .expect("the email can be used again");
}
