//! Access keys: the credentials SigV4 checks, kept in the store's `access_keys` table.
//!
//! An id looks like AWS's (`AKIA` and 16 characters of A-Z and 2-7), a secret is 40 characters
//! of base64's alphabet, both from the operating system's CSPRNG-seeded generator. A key is
//! `Active` until revoked (`Inactive`); revoked keys stay listed and are refused. `admin` keys
//! may use the control plane (`iot`).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrocore_store::rusqlite::{self, OptionalExtension, Row, params};
use ferrocore_store::{Store, StoreError};
use rand::Rng;

use crate::sigv4::SecretKey;

/// Characters of generated key ids after the `AKIA` prefix (as AWS: base32's alphabet).
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Characters of generated secrets.
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Whether a key may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Requests signed with it are accepted.
    Active,
    /// Revoked: requests signed with it are refused.
    Inactive,
}

impl KeyStatus {
    /// The name AWS uses for the status (`Active`, `Inactive`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }

    fn parse(text: &str) -> Result<KeyStatus, KeyError> {
        match text {
            "Active" => Ok(KeyStatus::Active),
            "Inactive" => Ok(KeyStatus::Inactive),
            other => Err(KeyError::Store(StoreError::Corrupt(format!("key status {other:?}")))),
        }
    }
}

/// An access key. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The access key id, public.
    pub id: String,
    /// The secret access key.
    pub secret: String,
    /// When it was created.
    pub created: SystemTime,
    /// Whether it may be used.
    pub status: KeyStatus,
    /// Whether it may use the control plane.
    pub admin: bool,
    /// The IoT policy (by name, in the registry) that limits what a data-plane key may do;
    /// `None`: the whole data plane.
    pub policy: Option<String>,
}

impl AccessKey {
    /// A new random key, active, created `now`.
    pub fn generate(admin: bool, now: SystemTime) -> AccessKey {
        let mut rng = rand::rng();
        let mut pick = |alphabet: &[u8], n: usize| -> String {
            (0..n).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect()
        };
        let id = format!("AKIA{}", pick(ID_ALPHABET, 16));
        let secret = pick(SECRET_ALPHABET, 40);
        AccessKey { id, secret, created: now, status: KeyStatus::Active, admin, policy: None }
    }

    /// Checks a key given from outside (the root key of the environment): an id of 16 to 128
    /// letters and digits, a secret of 8 to 128 printable characters without spaces.
    pub fn validate(id: &str, secret: &str) -> Result<(), KeyError> {
        if !(16..=128).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(KeyError::Invalid(format!(
                "an access key id has 16 to 128 letters and digits, got {} characters",
                id.len()
            )));
        }
        if !(8..=128).contains(&secret.len()) || !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(KeyError::Invalid(
                "a secret access key has 8 to 128 printable characters without spaces".into(),
            ));
        }
        Ok(())
    }

    fn from_row(row: &Row<'_>) -> rusqlite::Result<(AccessKey, String)> {
        let created_ms: i64 = row.get(2)?;
        let status: String = row.get(3)?;
        let key = AccessKey {
            id: row.get(0)?,
            secret: row.get(1)?,
            created: UNIX_EPOCH + Duration::from_millis(u64::try_from(created_ms).unwrap_or(0)),
            status: KeyStatus::Active,
            admin: row.get::<_, i64>(4)? != 0,
            policy: row.get(5)?,
        };
        Ok((key, status))
    }
}

impl SecretKey for AccessKey {
    fn secret_access_key(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("created", &self.created)
            .field("status", &self.status)
            .field("admin", &self.admin)
            .field("policy", &self.policy)
            .finish()
    }
}

/// Why a key operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No key has this id.
    #[error("no access key {0}")]
    NotFound(String),
    /// A key given from outside is not acceptable.
    #[error("invalid access key: {0}")]
    Invalid(String),
}

impl From<rusqlite::Error> for KeyError {
    fn from(error: rusqlite::Error) -> Self {
        KeyError::Store(StoreError::from(error))
    }
}

/// The access keys in the store.
#[derive(Debug, Clone)]
pub struct KeyStore {
    store: Store,
}

fn millis(at: SystemTime) -> i64 {
    let ms = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    i64::try_from(ms).unwrap_or(i64::MAX)
}

impl KeyStore {
    /// The keys of `store`.
    pub fn new(store: Store) -> KeyStore {
        KeyStore { store }
    }

    /// Creates and stores a new random key.
    pub async fn create(&self, admin: bool) -> Result<AccessKey, KeyError> {
        let key = AccessKey::generate(admin, SystemTime::now());
        self.put(key.clone()).await?;
        Ok(key)
    }

    /// Creates and stores a new random data-plane key limited by the IoT policy named
    /// `policy` (the caller checks that it exists).
    pub async fn create_with_policy(&self, policy: &str) -> Result<AccessKey, KeyError> {
        let mut key = AccessKey::generate(false, SystemTime::now());
        key.policy = Some(policy.to_owned());
        self.put(key.clone()).await?;
        Ok(key)
    }

    /// Stores `id` with `secret` as an active key, replacing the secret of an existing key of
    /// that id (the root key given by the environment follows the environment).
    pub async fn import(&self, id: &str, secret: &str, admin: bool) -> Result<AccessKey, KeyError> {
        AccessKey::validate(id, secret)?;
        let key = AccessKey {
            id: id.to_owned(),
            secret: secret.to_owned(),
            created: SystemTime::now(),
            status: KeyStatus::Active,
            admin,
            policy: None,
        };
        self.put(key.clone()).await?;
        Ok(key)
    }

    async fn put(&self, key: AccessKey) -> Result<(), KeyError> {
        self.store
            .execute(move |tx| {
                tx.execute(
                    "INSERT INTO access_keys (id, secret, created_ms, status, admin, policy)
                     VALUES (?1, ?2, ?3, 'Active', ?4, ?5)
                     ON CONFLICT (id) DO UPDATE
                     SET secret = excluded.secret, status = 'Active', admin = excluded.admin,
                         policy = excluded.policy",
                    params![
                        key.id,
                        key.secret,
                        millis(key.created),
                        i64::from(key.admin),
                        key.policy
                    ],
                )?;
                Ok::<_, KeyError>(())
            })
            .await
    }

    /// Revokes key `id`: it stays listed, as `Inactive`, and is refused from now on.
    pub async fn revoke(&self, id: &str) -> Result<(), KeyError> {
        let id = id.to_owned();
        self.store
            .execute(move |tx| {
                let changed =
                    tx.execute("UPDATE access_keys SET status = 'Inactive' WHERE id = ?1", [&id])?;
                if changed == 0 {
                    return Err(KeyError::NotFound(id));
                }
                Ok(())
            })
            .await
    }

    /// Key `id`, whatever its status.
    pub fn get(&self, id: &str) -> Result<Option<AccessKey>, KeyError> {
        self.store.read(|tx| {
            let row = tx
                .prepare_cached(
                    "SELECT id, secret, created_ms, status, admin, policy FROM access_keys WHERE id = ?1",
                )?
                .query_row([id], AccessKey::from_row)
                .optional()?;
            row.map(|(mut key, status)| {
                key.status = KeyStatus::parse(&status)?;
                Ok(key)
            })
            .transpose()
        })
    }

    /// Every key, oldest first.
    pub fn list(&self) -> Result<Vec<AccessKey>, KeyError> {
        self.store.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT id, secret, created_ms, status, admin, policy FROM access_keys
                 ORDER BY created_ms, id",
            )?;
            let rows = stmt.query_map([], AccessKey::from_row)?;
            let mut keys = Vec::new();
            for row in rows {
                let (mut key, status) = row?;
                key.status = KeyStatus::parse(&status)?;
                keys.push(key);
            }
            Ok(keys)
        })
    }

    /// Whether some active admin key exists.
    pub fn has_active_admin(&self) -> Result<bool, KeyError> {
        Ok(self.list()?.iter().any(|k| k.admin && k.status == KeyStatus::Active))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ferrocore_store::{Durability, StoreConfig};

    use super::*;

    fn store(dir: &tempfile::TempDir) -> Store {
        let config = StoreConfig {
            synchronous: Durability::Normal,
            ..StoreConfig::new(dir.path().join("s.db"))
        };
        Store::open(config).unwrap()
    }

    #[test]
    fn generated_keys_look_like_aws_keys_and_differ() {
        let a = AccessKey::generate(true, SystemTime::now());
        let b = AccessKey::generate(true, SystemTime::now());
        assert!(a.id.starts_with("AKIA") && a.id.len() == 20, "{}", a.id);
        assert_eq!(a.secret.len(), 40);
        assert_ne!(a.id, b.id);
        assert_ne!(a.secret, b.secret);
        AccessKey::validate(&a.id, &a.secret).unwrap();
        assert!(!format!("{a:?}").contains(&a.secret), "Debug shows the secret");
    }

    #[test]
    fn imported_keys_are_validated() {
        assert!(AccessKey::validate("short", "secretsecret").is_err());
        assert!(AccessKey::validate("AKIAABCDEFGHIJKLMNOP", "has space in it").is_err());
        assert!(AccessKey::validate("AKIA-BCDEFGHIJKLMNOP", "secretsecret").is_err());
        AccessKey::validate("AKIAABCDEFGHIJKLMNOP", "secret/secret+x").unwrap();
    }

    #[tokio::test]
    async fn create_list_revoke_and_import() {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeyStore::new(store(&dir));
        assert!(!keys.has_active_admin().unwrap());
        let admin = keys.create(true).await.unwrap();
        let user = keys.create(false).await.unwrap();
        assert!(keys.has_active_admin().unwrap());
        let listed = keys.list().unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(keys.get(&admin.id).unwrap().unwrap().secret, admin.secret);
        assert!(!keys.get(&user.id).unwrap().unwrap().admin);

        keys.revoke(&admin.id).await.unwrap();
        assert_eq!(keys.get(&admin.id).unwrap().unwrap().status, KeyStatus::Inactive);
        assert!(!keys.has_active_admin().unwrap());
        assert!(matches!(keys.revoke("AKIANOSUCHKEY").await, Err(KeyError::NotFound(_))));

        // Importing an existing id reactivates it with the given secret.
        let imported = keys.import(&admin.id, "another-secret", true).await.unwrap();
        let stored = keys.get(&admin.id).unwrap().unwrap();
        assert_eq!(stored.status, KeyStatus::Active);
        assert_eq!(stored.secret, imported.secret);
        assert!(keys.get("AKIAUNKNOWN").unwrap().is_none());
    }
}
