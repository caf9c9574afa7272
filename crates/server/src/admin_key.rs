//! The admin access key: on first start Ferrocore creates one and saves it in the data
//! directory (`admin-key.json`, mode 0600), unless the environment gives one
//! (`FERROCORE_ROOT_ACCESS_KEY_ID` and `FERROCORE_ROOT_SECRET_ACCESS_KEY`), which then is the
//! admin key, as MinIO does for automated deployments.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ferrocore_auth::{AccessKey, KeyError, KeyStore};

use crate::Config;

/// The file the generated admin key is saved in, inside the data directory.
pub const FILE_NAME: &str = "admin-key.json";

/// Why the admin key could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AdminKeyError {
    /// The key store failed, or the environment's key is not acceptable.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The key file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Makes sure an admin key exists: imports the environment's root key, or creates and saves a
/// key when no active admin key exists. Returns the key it created, if any.
pub async fn ensure(keys: &KeyStore, config: &Config) -> Result<Option<AccessKey>, AdminKeyError> {
    if let Some(root) = &config.root_key {
        keys.import(&root.id, &root.secret, true).await?;
        tracing::info!(access_key_id = %root.id, "admin access key from the environment");
        return Ok(None);
    }
    if keys.has_active_admin()? {
        return Ok(None);
    }
    let key = keys.create(true).await?;
    let path = config.data_dir.join(FILE_NAME);
    write_key_file(&path, &key, config)?;
    tracing::info!(access_key_id = %key.id, file = %path.display(), "admin access key created");
    Ok(Some(key))
}

/// Writes `key` as JSON to `path`, readable by the owner only.
fn write_key_file(path: &Path, key: &AccessKey, config: &Config) -> Result<(), AdminKeyError> {
    let endpoint = config.api_addr.map(|addr| format!("http://{addr}"));
    let json = serde_json::json!({
        "accessKeyId": key.id,
        "secretAccessKey": key.secret,
        "region": config.region,
        "endpointUrl": endpoint,
    });
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        writeln!(file, "{json:#}")?;
        file.sync_all()
    };
    write().map_err(|source| AdminKeyError::Write { path: path.to_owned(), source })
}

/// The lines that tell an operator how to use `key` with the AWS CLI against `endpoint`.
pub fn cli_instructions(key: &AccessKey, region: &str, endpoint: &str, file: &Path) -> String {
    format!(
        "ferrocore: created an admin access key, saved in {file} (mode 0600).\n\
         ferrocore: put it in an AWS CLI profile with:\n\
         \x20 aws configure set aws_access_key_id {id} --profile ferrocore\n\
         \x20 aws configure set aws_secret_access_key {secret} --profile ferrocore\n\
         \x20 aws configure set region {region} --profile ferrocore\n\
         ferrocore: then, for example:\n\
         \x20 aws iot list-things --profile ferrocore --endpoint-url {endpoint}",
        file = file.display(),
        id = key.id,
        secret = key.secret,
    )
}
