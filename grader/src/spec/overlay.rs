//! An instructor's private overlay: hidden checks (and their snapshots) kept
//! outside the public course repository and added to a lab at grade time.
//!
//! The overlay is a folder with one subfolder per lab it changes:
//!
//! ```text
//! course-private/
//!   week08/
//!     overlay.toml        # [[checks]] like a lab.toml's, all hidden
//!     snapshots/*.snap    # what those checks compare with
//! ```
//!
//! A check whose id is a public hidden check's replaces it; any other id is
//! added after the lab's checks. Every overlay check is hidden: a student's
//! grade does not run it, and a student's report shows only how many checks
//! and points were withheld. The specification's digest covers the overlay,
//! so a batch regrades the class when the overlay changes.

use super::{CheckSpec, LabSpec, SpecError, Visibility, digest_part, read_snapshots};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Overlay {
    #[serde(default)]
    checks: Vec<CheckSpec>,
}

impl LabSpec {
    /// Applies the overlay in `dir` (the folder holding one folder per lab);
    /// a lab it has no folder for is left as it is. Returns how many checks
    /// the overlay added or replaced.
    pub fn apply_overlay(&mut self, dir: &Path) -> Result<usize, SpecError> {
        if !dir.is_dir() {
            return Err(SpecError::Invalid {
                origin: dir.display().to_string(),
                field: "overlay".into(),
                problem: "is not a folder".into(),
            });
        }
        let folder = dir.join(&self.id);
        if !folder.is_dir() {
            return Ok(0);
        }
        let file = folder.join("overlay.toml");
        let origin = file.display().to_string();
        let text = std::fs::read_to_string(&file).map_err(|source| SpecError::Read {
            origin: origin.clone(),
            source,
        })?;
        let overlay: Overlay = toml::from_str(&text).map_err(|e| SpecError::Parse {
            origin: origin.clone(),
            message: super::one_line(&e.to_string()),
        })?;
        let invalid = |field: String, problem: &str| SpecError::Invalid {
            origin: origin.clone(),
            field,
            problem: problem.to_string(),
        };
        let mut digest = Sha256::new();
        digest_part(&mut digest, "public", &self.digest);
        digest_part(&mut digest, "overlay.toml", &text);
        for (name, body) in read_snapshots(&folder.join("snapshots"))? {
            digest_part(&mut digest, &format!("overlay/snapshots/{name}"), &body);
            self.snapshots.insert(name, body);
        }
        let count = overlay.checks.len();
        for (i, mut check) in overlay.checks.into_iter().enumerate() {
            let field = format!("checks[{i}] ({})", check.id);
            if check.visibility != Visibility::Hidden {
                return Err(invalid(
                    field,
                    "an overlay's checks are hidden: add `visibility = \"hidden\"` (visible checks belong in the public specification)",
                ));
            }
            check.visibility = Visibility::Hidden;
            match self.checks.iter_mut().find(|c| c.id == check.id) {
                Some(public) if public.visibility == Visibility::Hidden => *public = check,
                Some(_) => {
                    return Err(invalid(
                        field,
                        "replaces a visible check: an overlay replaces only hidden ones",
                    ));
                }
                None => self.checks.push(check),
            }
        }
        self.digest = hex::encode(digest.finalize());
        self.origin = format!("{} + {origin}", self.origin);
        self.resolve_file_rules();
        self.validate()?;
        Ok(count)
    }
}
