//! How other records refer to a user.

use uuid::Uuid;

/// A user as others see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// Id.
    pub id: Uuid,
    /// Display name ("Deleted user" once the account is gone).
    pub name: String,
    /// Avatar URL.
    pub avatar_url: Option<String>,
}
