//! Pinning the model artifact by its SHA-256.
//!
//! The image's build writes the digest of the trained artifact to a pin file
//! (`/app/model.sha256`) next to it. At start-up the service reads the pin,
//! reads the artifact's bytes once, hashes them and compares. Only when they
//! match are the same bytes parsed: the file is never reopened, so it cannot be
//! swapped between the check and the use.
//!
//! The tree hash inside the artifact (see [`crate::model`]) does not do this
//! job: whoever edits the tree can recompute it. The pin lives outside the
//! artifact and is fixed when the image is built.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The largest artifact the service reads. A trained tree is a few hundred
/// kilobytes; a file far larger is not ours, and reading it all would let a
/// replaced file exhaust memory before the hash could refuse it.
pub const MAX_ARTIFACT_BYTES: u64 = 64 * 1024 * 1024;

/// A SHA-256 digest, parsed once from 64 hex characters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// Parses 64 hex characters (either case).
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Self(bytes))
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Compares without stopping at the first differing byte. The pin is not
    /// a secret, so this is habit rather than necessity.
    pub fn same_as(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

/// Why the artifact was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("cannot read the model pin {path}: {source}")]
    ReadPin {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the model pin {path} is not a SHA-256 digest (64 hex characters, as `sha256sum` writes)"
    )]
    MalformedPin { path: PathBuf },
    #[error("cannot read model artifact {path}: {source}")]
    ReadArtifact {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("model artifact {path} is larger than {MAX_ARTIFACT_BYTES} bytes; refusing to load it")]
    TooLarge { path: PathBuf },
    #[error(
        "model artifact {path} does not match its pin: expected SHA-256 {expected}, got {actual}; refusing to load it"
    )]
    Tampered {
        path: PathBuf,
        expected: Sha256Digest,
        actual: Sha256Digest,
    },
}

impl PinError {
    /// Bad configuration (a pin that is not a digest) is bad input; every
    /// other refusal is a failure to start.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, Self::MalformedPin { .. })
    }
}

/// Reads a pin file: its first word is the digest, so both a bare digest and
/// `sha256sum`'s `<digest>  <file>` line are accepted.
pub fn read_pin(path: &Path) -> Result<Sha256Digest, PinError> {
    let text = std::fs::read_to_string(path).map_err(|source| PinError::ReadPin {
        path: path.to_owned(),
        source,
    })?;
    text.split_whitespace()
        .next()
        .and_then(Sha256Digest::from_hex)
        .ok_or_else(|| PinError::MalformedPin {
            path: path.to_owned(),
        })
}

/// Reads the artifact at `path` once, checks its bytes against `pin`, and
/// returns those very bytes for parsing.
pub fn read_pinned(path: &Path, pin: &Sha256Digest) -> Result<Vec<u8>, PinError> {
    let read_err = |source| PinError::ReadArtifact {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    // One byte past the limit tells "at the limit" from "over it".
    file.take(MAX_ARTIFACT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_ARTIFACT_BYTES {
        return Err(PinError::TooLarge {
            path: path.to_owned(),
        });
    }
    let actual = Sha256Digest::of(&bytes);
    if !actual.same_as(pin) {
        return Err(PinError::Tampered {
            path: path.to_owned(),
            expected: *pin,
            actual,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wine-pin-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    }

    #[test]
    fn digests_parse_and_print_as_lowercase_hex() {
        let hex = "CA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B9807785AFEE48BB";
        let digest = Sha256Digest::from_hex(hex).expect("valid");
        assert_eq!(digest.to_string(), hex.to_lowercase());
        assert_eq!(digest, Sha256Digest::of(b"a"));
        assert!(Sha256Digest::from_hex(&hex[1..]).is_none());
        assert!(Sha256Digest::from_hex(&format!("{}zz", &hex[2..])).is_none());
        assert!(Sha256Digest::from_hex(&"é".repeat(32)).is_none());
    }

    #[test]
    fn the_right_bytes_pass_and_come_back() {
        let path = temp("ok.json", b"{\"tree\":1}");
        let pin = Sha256Digest::of(b"{\"tree\":1}");
        assert_eq!(read_pinned(&path, &pin).expect("matches"), b"{\"tree\":1}");
    }

    #[test]
    fn one_changed_byte_is_refused_naming_both_digests() {
        let path = temp("tampered.json", b"{\"tree\":2}");
        let pin = Sha256Digest::of(b"{\"tree\":1}");
        let err = read_pinned(&path, &pin).expect_err("tampered");
        assert!(matches!(err, PinError::Tampered { .. }));
        let message = err.to_string();
        assert!(message.contains("expected SHA-256"), "{message}");
        assert!(message.contains(&pin.to_string()), "{message}");
        assert!(!err.is_bad_input());
    }

    #[test]
    fn pin_files_take_a_bare_digest_or_a_sha256sum_line() {
        let hex = Sha256Digest::of(b"x").to_string();
        let bare = temp("bare.sha256", format!("{hex}\n").as_bytes());
        let sum = temp("sum.sha256", format!("{hex}  /out/model.json\n").as_bytes());
        assert_eq!(read_pin(&bare).expect("bare").to_string(), hex);
        assert_eq!(read_pin(&sum).expect("sum").to_string(), hex);
        let bad = temp("bad.sha256", b"not a digest\n");
        let err = read_pin(&bad).expect_err("malformed");
        assert!(err.is_bad_input(), "{err}");
        let empty = temp("empty.sha256", b"");
        assert!(read_pin(&empty).expect_err("empty").is_bad_input());
    }

    #[test]
    fn a_missing_file_is_an_error_not_a_panic() {
        let pin = Sha256Digest::of(b"");
        let err = read_pinned(Path::new("/nonexistent/model.json"), &pin).expect_err("missing");
        assert!(matches!(err, PinError::ReadArtifact { .. }));
        let err = read_pin(Path::new("/nonexistent/model.sha256")).expect_err("missing");
        assert!(matches!(err, PinError::ReadPin { .. }));
    }
}
