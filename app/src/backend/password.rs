//! Password hashing: argon2id with the OWASP parameters (19 MiB, 2 iterations, 1 lane), PHC strings.
//! Hashing runs on the blocking pool: it takes tens of milliseconds of CPU on purpose.

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};
use std::fmt;

/// A PHC-format argon2id hash. Neither `Debug`-prints its content nor serializes.
#[derive(Clone)]
pub struct PasswordHash(String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

impl PasswordHash {
    /// Wraps a hash read from the database.
    pub fn from_phc(phc: String) -> PasswordHash {
        PasswordHash(phc)
    }

    /// The PHC string, for storing.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` with a fresh random salt.
pub async fn hash(password: String) -> anyhow::Result<PasswordHash> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| PasswordHash(h.to_string()))
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await?
}

/// Whether `password` matches `hash`. A malformed stored hash counts as a mismatch (and is logged).
pub async fn verify(password: String, hash: PasswordHash) -> bool {
    tokio::task::spawn_blocking(move || {
        let parsed = match argon2::PasswordHash::new(&hash.0) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("a stored password hash is malformed: {e}");
                return false;
            }
        };
        hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let h = hash("correct horse".into()).await.unwrap();
        assert!(h.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse".into(), h.clone()).await);
        assert!(!verify("wrong".into(), h.clone()).await);
        assert!(!format!("{h:?}").contains("argon2"));
        assert!(!verify("x".into(), PasswordHash::from_phc("garbage".into())).await);
    }

    #[tokio::test]
    async fn salts_differ() {
        let a = hash("same".into()).await.unwrap();
        let b = hash("same".into()).await.unwrap();
        assert_ne!(a.as_phc(), b.as_phc());
    }
}
