//! Seeding a running server through its own API.

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// A signed-up user.
pub struct Seeded {
    /// Bearer token.
    pub token: String,
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
    /// Id.
    pub id: String,
}

/// POSTs `body` to `base + path`, with a bearer token if given; returns the JSON answer.
pub fn post(base: &str, path: &str, token: Option<&str>, body: &Value) -> Result<Value> {
    let mut request = ureq::post(format!("{base}{path}"));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let mut response = request.send_json(body).with_context(|| format!("POST {path}"))?;
    Ok(response.body_mut().read_json()?)
}

/// Registers a user called `name`.
pub fn register(base: &str, name: &str) -> Result<Seeded> {
    let email = format!("{name}@bench.example.com");
    let password = "correct horse battery staple".to_string();
    let auth = post(base, "/api/v1/auth/register", None, &json!({"email": email, "password": password, "name": name}))?;
    Ok(Seeded {
        token: auth["tokens"]["access_token"].as_str().unwrap_or_default().to_string(),
        id: auth["user"]["id"].as_str().unwrap_or_default().to_string(),
        email,
        password,
    })
}
