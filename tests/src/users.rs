//! Signed-up users for tests.

use mit_client::{Client, types};

use crate::TestApp;

/// A registered user and a client signed in as them.
pub struct TestUser {
    /// Their id.
    pub id: uuid::Uuid,
    /// Their (unique) email.
    pub email: String,
    /// Their password.
    pub password: String,
    /// Display name.
    pub name: String,
    /// The access token of their first session.
    pub access_token: String,
    /// The refresh token of their first session.
    pub refresh_token: String,
    /// A client sending the access token.
    pub client: Client,
}

impl TestUser {
    /// Registers `name` with a unique email and a fixed password.
    pub async fn register(app: &TestApp, name: &str) -> Self {
        Self::register_at(&app.base_url, name).await
    }

    /// A client signed in as this user on the server at `base_url` (another node of the same
    /// deployment).
    pub fn client_at(&self, base_url: &str) -> Client {
        mit_client::with_bearer(base_url, &self.access_token).expect("a valid token header")
    }

    /// Registers `name` on the server at `base_url`.
    pub async fn register_at(base_url: &str, name: &str) -> Self {
        let email = format!("{}-{}@example.com", name.to_lowercase().replace(' ', "."), uuid::Uuid::new_v4().simple());
        let password = "correct horse battery staple".to_string();
        let anonymous = mit_client::Client::new(base_url);
        let response = anonymous
            .register_user()
            .body(types::RegisterRequest::builder().email(email.as_str()).name(name).password(password.as_str()))
            .send()
            .await
            .expect("registration succeeds")
            .into_inner();
        Self {
            id: response.user.id,
            email,
            password,
            name: name.to_string(),
            client: mit_client::with_bearer(base_url, &response.tokens.access_token).expect("a valid token header"),
            access_token: response.tokens.access_token,
            refresh_token: response.tokens.refresh_token,
        }
    }
}
