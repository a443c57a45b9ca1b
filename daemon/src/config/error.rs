//! Why a configuration cannot be used; each message names the file or field.

use std::path::PathBuf;

/// A configuration that cannot be read, parsed or accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The `--config` file cannot be read.
    #[error("cannot read config file {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The `--config` file is not valid TOML for [`super::Config`]
    /// (syntax, a wrong type, an unknown field).
    #[error("config file {}: {error}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and what, with line and column.
        error: toml::de::Error,
    },
    /// A field's value breaks its rule.
    #[error("config field `{field}`: {rule}")]
    Invalid {
        /// The field, as spelled in the TOML file.
        field: &'static str,
        /// The rule, and the value where that helps.
        rule: String,
    },
    /// The secret file cannot be read, created or accepted.
    #[error("secret file {}: {error}", path.display())]
    SecretFile {
        /// `<data_dir>/secret`.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The operating system's random source failed.
    #[error("cannot generate a secret: {0}")]
    Random(getrandom::Error),
}
