//! The cluster secret: given, or kept in `<data_dir>/secret`.
//!
//! The key is always the bytes of the secret's text, also for the generated
//! file (64 hex characters), so `--secret "$(cat imedge-data/secret)"` gives
//! another node or the loadgen exactly the same key.

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError};

/// Shortest secret accepted, in bytes: 128 bits if the text is random.
pub const MIN_SECRET_BYTES: usize = 16;

/// Random bytes in a generated secret (stored as twice as many hex digits).
const GENERATED_BYTES: usize = 32;

/// Secret text that never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret's text; its bytes are the key.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Secret, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_owned())
    }
}

impl Config {
    /// The key: `secret` (file, flag or `IMEDGE_SECRET`) if set, else the
    /// contents of `<data_dir>/secret`, which is created with 32 random bytes
    /// hex-encoded and mode 0600 when missing and reused on later starts.
    pub fn resolve_secret(&self) -> Result<Vec<u8>, ConfigError> {
        if let Some(secret) = &self.secret {
            return Ok(secret.expose().as_bytes().to_vec());
        }
        let path = self.data_dir.join("secret");
        match read(&path) {
            Err(ConfigError::SecretFile { error, .. }) if error.kind() == ErrorKind::NotFound => {
                create(&self.data_dir, &path)
            }
            other => other,
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let fail = |error| ConfigError::SecretFile {
        path: path.to_owned(),
        error,
    };
    let text = fs::read_to_string(path).map_err(fail)?;
    let text = text.trim();
    if text.len() < MIN_SECRET_BYTES {
        // A crash while an older version wrote it, or a hand edit: never run
        // with a guessable key; the operator decides whether to delete it.
        return Err(fail(std::io::Error::new(
            ErrorKind::InvalidData,
            format!("holds {} bytes, fewer than {MIN_SECRET_BYTES}", text.len()),
        )));
    }
    Ok(text.as_bytes().to_vec())
}

fn create(dir: &Path, path: &Path) -> Result<Vec<u8>, ConfigError> {
    let fail = |error| ConfigError::SecretFile {
        path: path.to_owned(),
        error,
    };
    fs::create_dir_all(dir).map_err(fail)?;
    let mut raw = [0u8; GENERATED_BYTES];
    getrandom::getrandom(&mut raw).map_err(ConfigError::Random)?;
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();

    // Written under a private name and linked into place, so the file is
    // whole or absent, and a process that loses a start-up race reads the
    // winner's secret instead of replacing it.
    let tmp = temp_name(dir);
    let written = write_private(&tmp, &hex).and_then(|()| fs::hard_link(&tmp, path));
    let _ = fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(hex.into_bytes()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => read(path),
        Err(e) => Err(fail(e)),
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

fn temp_name(dir: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dir.join(format!(".secret.{}.{nanos}.tmp", std::process::id()))
}
