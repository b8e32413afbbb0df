//! Password hashing with argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane), off the async
//! runtime because each hash takes tens of milliseconds of CPU. At most one hash per core runs at
//! once: more would not finish sooner, and a burst of sign-ins would otherwise hold 19 MiB each.

use std::sync::{LazyLock, OnceLock};

use tokio::sync::Semaphore;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::error::DomainError;

static HASHING: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(1, usize::from)));

/// A PHC string for `password`.
pub async fn hash(password: String) -> Result<String, DomainError> {
    let _permit = HASHING.acquire().await.map_err(|e| DomainError::Internal(format!("hashing gate closed: {e}")))?;
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| DomainError::Internal(format!("hashing task failed: {e}")))?
}

/// Whether `password` matches `phc`. With no hash (unknown account) it still spends the time of
/// a real check, so response times do not tell which emails have accounts.
pub async fn verify(password: String, phc: Option<String>) -> Result<bool, DomainError> {
    let _permit = HASHING.acquire().await.map_err(|e| DomainError::Internal(format!("hashing gate closed: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let known = phc.is_some();
        let phc = match phc {
            Some(phc) => phc,
            None => dummy_hash()?.to_string(),
        };
        let parsed = PasswordHash::new(&phc).map_err(|e| DomainError::Internal(format!("stored hash unreadable: {e}")))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && known)
    })
    .await
    .map_err(|e| DomainError::Internal(format!("verifying task failed: {e}")))?
}

fn hash_now(password: &str) -> Result<String, DomainError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DomainError::Internal(format!("cannot hash a password: {e}")))
}

fn dummy_hash() -> Result<&'static str, DomainError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let hash = hash_now("not a password anyone has")?;
    Ok(DUMMY.get_or_init(|| hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() {
        let phc = hash("correct horse".into()).await.expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("correct horse".into(), Some(phc.clone())).await.expect("verify"));
        assert!(!verify("wrong horse".into(), Some(phc)).await.expect("verify"));
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        assert!(!verify("not a password anyone has".into(), None).await.expect("verify"));
    }
}
