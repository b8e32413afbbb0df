//! Who is calling: the result of authenticating a bearer token.

use uuid::Uuid;

/// An authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The signed-in user.
    pub user_id: Uuid,
    /// The session (sign-in) the access token belongs to.
    pub session_id: Uuid,
}

impl std::fmt::Display for Caller {
    /// The user id: what logs record as the request's caller.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.user_id.fmt(f)
    }
}
