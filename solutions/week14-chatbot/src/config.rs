//! The service's settings, read from the environment (as containers are
//! configured) into a plain struct, so that tests build one by hand.

use std::path::PathBuf;

use crate::AppError;

/// The model asked for when `OPENAI_MODEL` is not set.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

/// Everything the service needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// TCP port to listen on, on all interfaces (`PORT`, default 8080).
    pub port: u16,
    /// The folder of markdown notes to index (`NOTES_DIR`, default `notes`).
    pub notes_dir: PathBuf,
    /// Where the OpenAI-compatible endpoint lives, up to `/v1`
    /// (`OPENAI_BASE_URL`). Without one the service still starts: `/retrieve`
    /// works, and `/chat` answers 502 saying what is missing.
    pub base_url: Option<String>,
    /// Sent as `Authorization: Bearer …` when set (`OPENAI_API_KEY`); a local
    /// model server often needs none.
    pub api_key: Option<String>,
    /// `OPENAI_MODEL`, default [`DEFAULT_MODEL`].
    pub model: String,
}

impl Config {
    /// The settings from the process's environment.
    pub fn from_env() -> Result<Self, AppError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings from any lookup of variables; an empty value counts as
    /// unset, as `docker run -e NAME=` means.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AppError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let port = match get("PORT") {
            None => 8080,
            Some(text) => text.trim().parse::<u16>().map_err(|_| {
                AppError::Config(format!("PORT `{text}` is not a port number (0 to 65535)"))
            })?,
        };
        Ok(Config {
            port,
            notes_dir: PathBuf::from(get("NOTES_DIR").unwrap_or_else(|| "notes".to_owned())),
            base_url: get("OPENAI_BASE_URL"),
            api_key: get("OPENAI_API_KEY"),
            model: get("OPENAI_MODEL").unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, AppError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn defaults_fill_what_is_unset_or_empty() {
        let config = config(&[("OPENAI_MODEL", " ")]).expect("defaults");
        assert_eq!(config.port, 8080);
        assert_eq!(config.notes_dir, PathBuf::from("notes"));
        assert_eq!(config.base_url, None);
        assert_eq!(config.api_key, None);
        assert_eq!(config.model, DEFAULT_MODEL);
    }

    #[test]
    fn every_variable_is_read_and_a_bad_port_is_refused() {
        let config = config(&[
            ("PORT", "9000"),
            ("NOTES_DIR", "/app/notes"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9100/v1"),
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_MODEL", "tiny"),
        ])
        .expect("valid");
        assert_eq!(config.port, 9000);
        assert_eq!(config.notes_dir, PathBuf::from("/app/notes"));
        assert_eq!(config.base_url.as_deref(), Some("http://127.0.0.1:9100/v1"));
        assert_eq!(config.api_key.as_deref(), Some("sk-test"));
        assert_eq!(config.model, "tiny");
        let err = self::config(&[("PORT", "http")]).expect_err("not a port");
        assert!(err.to_string().contains("PORT"), "{err}");
    }
}
