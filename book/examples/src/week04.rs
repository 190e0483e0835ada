//! Week 4: two defences of the model service.
//!
//! Artifact pinning: the service knows the SHA-256 of the model it must serve
//! and refuses to start on any other bytes. Strict input validation: a request
//! body is size-checked before it is parsed, parsed into exact types, and
//! checked for finite, in-range values, and every refusal names the field.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

// ANCHOR: digest
/// A SHA-256 digest, parsed once from its 64 hex characters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }
}

impl FromStr for Sha256Digest {
    type Err = ArtifactError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut bytes).map_err(|err| ArtifactError::BadPin {
            reason: format!("expected 64 hex characters: {err}"),
        })?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}
// ANCHOR_END: digest

// ANCHOR: artifact_error
/// Largest model file the service will read: a bound on memory and start-up
/// time, whatever the file on disk claims to be.
pub const MAX_ARTIFACT_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("the pinned SHA-256 is not valid: {reason}")]
    BadPin { reason: String },
    #[error("cannot read model artifact {origin}")]
    Read {
        origin: String,
        #[source]
        source: std::io::Error,
    },
    #[error("model artifact {origin} is larger than {limit} bytes; refusing to load it")]
    TooLarge { origin: String, limit: u64 },
    #[error(
        "model artifact {origin} does not match its pin: expected SHA-256 {expected}, \
         got {actual}; refusing to load it"
    )]
    Tampered {
        origin: String,
        expected: Sha256Digest,
        actual: Sha256Digest,
    },
}
// ANCHOR_END: artifact_error

// ANCHOR: pinning
// ANCHOR: pinning_read
/// Reads at most `limit` bytes from `reader` and returns them only if their
/// SHA-256 equals `expected`.
///
/// The bytes returned are the very bytes that were hashed: the caller parses
/// them from memory and never reopens the file, so nobody can swap the file
/// between the check and the use.
pub fn read_pinned(
    mut reader: impl Read,
    origin: &str,
    expected: &Sha256Digest,
    limit: u64,
) -> Result<Vec<u8>, ArtifactError> {
    let mut bytes = Vec::new();
    // One byte more than allowed tells "exactly at the limit" from "over it".
    reader
        .by_ref()
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ArtifactError::Read {
            origin: origin.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(ArtifactError::TooLarge {
            origin: origin.to_owned(),
            limit,
        });
    }
    // ANCHOR_END: pinning_read
    // ANCHOR: pinning_check
    let actual = Sha256Digest::of(&bytes);
    // Constant time: the comparison takes as long whatever byte differs. The
    // pin is not secret, so this is defence in depth here, but it is the
    // habit to have wherever a digest, MAC or token is compared.
    if bool::from(actual.0.ct_eq(&expected.0)) {
        Ok(bytes)
    } else {
        Err(ArtifactError::Tampered {
            origin: origin.to_owned(),
            expected: *expected,
            actual,
        })
    }
}

/// Opens the model file at `path` and reads it through [`read_pinned`].
pub fn load_pinned(path: &Path, expected: &Sha256Digest) -> Result<Vec<u8>, ArtifactError> {
    let origin = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| ArtifactError::Read {
        origin: origin.clone(),
        source,
    })?;
    read_pinned(file, &origin, expected, MAX_ARTIFACT_BYTES)
}
// ANCHOR_END: pinning_check
// ANCHOR_END: pinning

// ANCHOR: request_types
// ANCHOR: request_types_wine
/// Largest request body accepted, 1 MiB. Checked before parsing.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most wines one request may carry.
pub const MAX_BATCH: usize = 1000;

/// One wine. `deny_unknown_fields` refuses any key not listed here; a
/// missing key, a duplicate key or a non-number is a parse error too.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wine {
    pub fixed_acidity: f64,
    pub volatile_acidity: f64,
    pub citric_acid: f64,
    pub residual_sugar: f64,
    pub chlorides: f64,
    pub free_sulfur_dioxide: f64,
    pub total_sulfur_dioxide: f64,
    pub density: f64,
    pub ph: f64,
    pub sulphates: f64,
    pub alcohol: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictRequest {
    inputs: Vec<Wine>,
}
// ANCHOR_END: request_types_wine

// ANCHOR: request_types_bounds
/// Physically possible bounds of each feature: they refuse values that
/// cannot describe a wine, not unusual wines.
const BOUNDS: [(&str, f64, f64); 11] = [
    ("fixed_acidity", 0.0, 100.0),
    ("volatile_acidity", 0.0, 100.0),
    ("citric_acid", 0.0, 100.0),
    ("residual_sugar", 0.0, 100.0),
    ("chlorides", 0.0, 100.0),
    ("free_sulfur_dioxide", 0.0, 1000.0),
    ("total_sulfur_dioxide", 0.0, 1000.0),
    ("density", 0.0, 10.0),
    ("ph", 0.0, 14.0),
    ("sulphates", 0.0, 100.0),
    ("alcohol", 0.0, 100.0),
];

impl Wine {
    fn values(&self) -> [f64; 11] {
        [
            self.fixed_acidity,
            self.volatile_acidity,
            self.citric_acid,
            self.residual_sugar,
            self.chlorides,
            self.free_sulfur_dioxide,
            self.total_sulfur_dioxide,
            self.density,
            self.ph,
            self.sulphates,
            self.alcohol,
        ]
    }
}
// ANCHOR_END: request_types_bounds
// ANCHOR_END: request_types

// ANCHOR: rejection
/// Why a request was refused. Never a panic, never a 5xx.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    #[error("the body is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("{message}")]
    Invalid {
        /// Where the problem is, like `inputs[2].ph`, when there is a place.
        field: Option<String>,
        message: String,
    },
}

impl Rejection {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::TooLarge { .. } => 413,
            Rejection::Invalid { .. } => 422,
        }
    }

    fn invalid(field: impl Into<String>, message: String) -> Self {
        Rejection::Invalid {
            field: Some(field.into()),
            message,
        }
    }
}
// ANCHOR_END: rejection

// ANCHOR: validate
// ANCHOR: validate_parse
/// Turns an untrusted request body into wines the model may see.
pub fn validate_body(body: &[u8]) -> Result<Vec<Wine>, Rejection> {
    // 1. Size first: nothing below runs on an oversized body. (A server must
    //    also stop *reading* at the limit; see the chapter.)
    if body.len() > MAX_BODY_BYTES {
        return Err(Rejection::TooLarge {
            size: body.len(),
            limit: MAX_BODY_BYTES,
        });
    }

    // 2. Parse into exact types, keeping the path of any error.
    let mut json = serde_json::Deserializer::from_slice(body);
    let request: PredictRequest = serde_path_to_error::deserialize(&mut json).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        // JSON has no NaN or infinity: `1e999` is how they arrive, and
        // serde_json refuses it as a number out of range.
        let message = if inner.to_string().starts_with("number out of range") {
            format!("`{path}` must be a finite number")
        } else {
            inner.to_string()
        };
        // A body that just stops has no field to blame.
        let field = (path != "." && !path.contains('?') && !inner.is_eof()).then_some(path);
        Rejection::Invalid { field, message }
    })?;
    // Trailing bytes after the JSON value (`{...}{...}`) are an error too.
    json.end().map_err(|err| Rejection::Invalid {
        field: None,
        message: err.to_string(),
    })?;
    // ANCHOR_END: validate_parse

    // ANCHOR: validate_rules
    // 3. Rules the types cannot express.
    let n = request.inputs.len();
    if !(1..=MAX_BATCH).contains(&n) {
        return Err(Rejection::invalid(
            "inputs",
            format!("`inputs` must hold 1 to {MAX_BATCH} wines, got {n}"),
        ));
    }
    for (i, wine) in request.inputs.iter().enumerate() {
        for (value, (name, min, max)) in wine.values().into_iter().zip(BOUNDS) {
            if !value.is_finite() || !(min..=max).contains(&value) {
                return Err(Rejection::invalid(
                    format!("inputs[{i}].{name}"),
                    format!("`{name}` must be between {min} and {max}, got {value}"),
                ));
            }
        }
    }
    Ok(request.inputs)
}
// ANCHOR_END: validate_rules
// ANCHOR_END: validate

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    const MODEL: &[u8] = br#"{"format":1,"model_version":"tree-d4-5f2c9a1b7e3d"}"#;

    fn pin_of(bytes: &[u8]) -> Sha256Digest {
        Sha256Digest::of(bytes)
    }

    // ANCHOR: pinning_tests
    // ANCHOR: pinning_tests_match
    #[test]
    fn the_pinned_artifact_loads() {
        let pin = pin_of(MODEL);
        let bytes = read_pinned(Cursor::new(MODEL), "model.json", &pin, 1024).expect("matches");
        assert_eq!(bytes, MODEL);
    }

    #[test]
    fn one_changed_byte_is_refused_with_both_hashes_in_the_message() {
        let pin = pin_of(MODEL);
        let mut tampered = MODEL.to_vec();
        tampered[30] ^= 0x01; // one bit, somewhere in the version string
        let err =
            read_pinned(Cursor::new(&tampered), "model.json", &pin, 1024).expect_err("tampered");
        let message = err.to_string();
        assert!(matches!(err, ArtifactError::Tampered { .. }));
        assert!(message.contains(&pin.to_string()), "{message}");
        assert!(
            message.contains(&pin_of(&tampered).to_string()),
            "{message}"
        );
        assert!(message.ends_with("refusing to load it"), "{message}");
    }
    // ANCHOR_END: pinning_tests_match

    // ANCHOR: pinning_tests_size
    #[test]
    fn a_truncated_or_oversized_artifact_is_refused() {
        let pin = pin_of(MODEL);
        let short = &MODEL[..MODEL.len() - 1];
        assert!(matches!(
            read_pinned(Cursor::new(short), "model.json", &pin, 1024),
            Err(ArtifactError::Tampered { .. })
        ));
        let limit = MODEL.len() as u64 - 1;
        assert!(matches!(
            read_pinned(Cursor::new(MODEL), "model.json", &pin, limit),
            Err(ArtifactError::TooLarge { .. })
        ));
        // Exactly at the limit is fine.
        let exact = MODEL.len() as u64;
        assert!(read_pinned(Cursor::new(MODEL), "model.json", &pin, exact).is_ok());
    }
    // ANCHOR_END: pinning_tests_size
    // ANCHOR_END: pinning_tests

    #[test]
    fn pins_must_be_64_hex_characters() {
        let good = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let digest: Sha256Digest = good.parse().expect("valid pin");
        assert_eq!(digest.to_string(), good);
        assert_eq!(digest, pin_of(b"test"));
        assert_eq!(
            good.to_uppercase()
                .parse::<Sha256Digest>()
                .expect("hex is case-blind"),
            digest
        );
        for bad in [
            "",
            "abc",
            &good[1..],
            &format!("{good}00"),
            &good.replace('9', "g"),
        ] {
            assert!(
                matches!(
                    bad.parse::<Sha256Digest>(),
                    Err(ArtifactError::BadPin { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn load_pinned_reads_a_file_and_refuses_a_tampered_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("model.json");
        std::fs::write(&path, MODEL).expect("write model");
        let pin = pin_of(MODEL);
        assert_eq!(load_pinned(&path, &pin).expect("matches"), MODEL);

        std::fs::write(&path, br#"{"format":1,"model_version":"evil"}"#).expect("tamper");
        let err = load_pinned(&path, &pin).expect_err("tampered");
        assert!(err.to_string().starts_with("model artifact "), "{err}");

        let missing = dir.path().join("missing.json");
        assert!(matches!(
            load_pinned(&missing, &pin),
            Err(ArtifactError::Read { .. })
        ));
    }

    const WINE: &str = r#"{"fixed_acidity":7.4,"volatile_acidity":0.7,"citric_acid":0.0,"residual_sugar":1.9,"chlorides":0.076,"free_sulfur_dioxide":11.0,"total_sulfur_dioxide":34.0,"density":0.9978,"ph":3.51,"sulphates":0.56,"alcohol":9.4}"#;

    fn body_with(wine: &str) -> String {
        format!(r#"{{"inputs":[{wine}]}}"#)
    }

    /// The field and status of a refusal, for compact assertions.
    fn refusal(body: &[u8]) -> (u16, Option<String>, String) {
        match validate_body(body) {
            Ok(wines) => panic!("accepted {} wines", wines.len()),
            Err(rejection) => {
                let status = rejection.status();
                let message = rejection.to_string();
                let field = match rejection {
                    Rejection::Invalid { field, .. } => field,
                    Rejection::TooLarge { .. } => None,
                };
                (status, field, message)
            }
        }
    }

    #[test]
    fn a_valid_request_passes() {
        let wines = validate_body(body_with(WINE).as_bytes()).expect("valid");
        assert_eq!(wines.len(), 1);
        assert_eq!(wines[0].alcohol, 9.4);
    }

    // ANCHOR: hostile_tests
    // ANCHOR: hostile_values
    #[test]
    fn hostile_values_are_refused_with_the_field_named() {
        let cases = [
            // NaN and infinity can only arrive as an overflowing number.
            (WINE.replace("9.4", "1e999"), "inputs[0].alcohol"),
            (WINE.replace("9.4", "-1e999"), "inputs[0].alcohol"),
            // A number written as a string, and null.
            (WINE.replace("3.51", "\"3.51\""), "inputs[0].ph"),
            (WINE.replace("3.51", "null"), "inputs[0].ph"),
            // Physically impossible values.
            (WINE.replace("3.51", "20"), "inputs[0].ph"),
            (WINE.replace("0.9978", "-1"), "inputs[0].density"),
        ];
        for (wine, field) in cases {
            let (status, got, message) = refusal(body_with(&wine).as_bytes());
            assert_eq!(status, 422, "{message}");
            assert_eq!(got.as_deref(), Some(field), "{message}");
        }
    }
    // ANCHOR_END: hostile_values

    // ANCHOR: hostile_shapes
    #[test]
    fn hostile_shapes_are_refused() {
        let extra = WINE.replace("{\"fixed", "{\"is_admin\":true,\"fixed");
        let missing = WINE.replace(",\"alcohol\":9.4", "");
        let duplicate = WINE.replace("{\"fixed", "{\"ph\":3.0,\"fixed");
        for (body, needle) in [
            (body_with(&extra), "unknown field `is_admin`"),
            (body_with(&missing), "missing field `alcohol`"),
            (body_with(&duplicate), "duplicate field `ph`"),
            (r#"{"inputs":[]}"#.to_owned(), "got 0"),
            (
                format!(r#"{{"inputs":[{WINE}],"debug":1}}"#),
                "unknown field `debug`",
            ),
            (
                format!("{}{}", body_with(WINE), "{}"),
                "trailing characters",
            ),
            (r#"{"inputs":"#.to_owned(), "EOF"),
            ("[1,2,3]".to_owned(), "invalid type"),
        ] {
            let (status, _, message) = refusal(body.as_bytes());
            assert_eq!(status, 422, "{message}");
            assert!(message.contains(needle), "{needle:?} not in {message:?}");
        }
    }
    // ANCHOR_END: hostile_shapes

    // ANCHOR: hostile_resources
    #[test]
    fn huge_and_deep_bodies_are_refused_without_crashing() {
        let batch = vec![WINE; MAX_BATCH + 1].join(",");
        let (status, field, _) = refusal(format!(r#"{{"inputs":[{batch}]}}"#).as_bytes());
        assert_eq!((status, field.as_deref()), (422, Some("inputs")));

        let exactly_max = vec![WINE; MAX_BATCH].join(",");
        let ok = validate_body(format!(r#"{{"inputs":[{exactly_max}]}}"#).as_bytes());
        assert_eq!(ok.expect("1000 is allowed").len(), MAX_BATCH);

        let too_big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(refusal(&too_big).0, 413);

        // 100,000 nested arrays: serde_json's recursion limit refuses them
        // long before the stack runs out.
        let deep = format!(
            "{{\"inputs\":{}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(refusal(deep.as_bytes()).0, 422);

        // Not even UTF-8.
        assert_eq!(refusal(&[0xff, 0xfe, 0x00]).0, 422);
    }
    // ANCHOR_END: hostile_resources
    // ANCHOR_END: hostile_tests
}
