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
