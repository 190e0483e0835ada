//! The course key: the age identity with which judges open the files that
//! students encrypt to the course's recipient (weeks 6 and 7).
//!
//! The open edition publishes a practice key (`grader/course-key/practice.txt`),
//! so that a student working alone can grade those checks on their own
//! machine; it teaches the mechanics, not secrecy. A class makes a key of its
//! own for the term (`grader course-key new`), publishes its recipient to the
//! students and keeps the identity with the instructors, who grade with
//! `--course-key FILE`. A run with `--course-key none` (a student's CI in a
//! class) has no identity: the checks that need one are not run, and say why.
//!
//! The identity only ever reaches the judge steps that ask for it
//! (`course_key = true`), through a read-only volume at [`MOUNT`]; never the
//! submission's own containers.

use age::secrecy::ExposeSecret;
use std::path::Path;

/// The practice key of the open edition: published, not secret.
pub const PRACTICE: &str = include_str!("../course-key/practice.txt");

/// Where a judge step that asks for it finds the identity file.
pub const MOUNT: &str = "/course";
/// The identity file's name in [`MOUNT`].
pub const FILE_NAME: &str = "identity.txt";
/// The recipient's file (one `age1...` line) in [`MOUNT`], for tools that
/// cannot derive it from the identity (sops, a policy script).
pub const RECIPIENT_FILE: &str = "recipient.txt";

/// The course identity a grade has, if any.
#[derive(Clone)]
pub enum CourseKey {
    /// An identity file's text (`AGE-SECRET-KEY-1...`), its recipient and
    /// where it came from ("the practice key", a path).
    Identity {
        text: String,
        recipient: String,
        origin: String,
    },
    /// None: checks that need one are not run.
    Absent,
}

impl std::fmt::Debug for CourseKey {
    // Never print the identity itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CourseKey::Identity {
                recipient, origin, ..
            } => write!(f, "CourseKey({origin}, {recipient})"),
            CourseKey::Absent => write!(f, "CourseKey(none)"),
        }
    }
}

impl CourseKey {
    /// The open edition's practice key.
    pub fn practice() -> Self {
        Self::parse(PRACTICE, "the practice course key")
            .unwrap_or_else(|e| unreachable!("the bundled practice key is valid: {e}"))
    }

    /// `practice`, `none`, or the path of an identity file.
    pub fn from_arg(arg: &str) -> Result<Self, String> {
        match arg {
            "practice" => Ok(Self::practice()),
            "none" => Ok(CourseKey::Absent),
            path => Self::from_file(Path::new(path)),
        }
    }

    /// Reads an identity file such as `age-keygen` or `grader course-key new`
    /// writes: exactly one X25519 identity.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("course key {}: cannot read: {e}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
            .map_err(|e| format!("course key {}: {e}", path.display()))
    }

    fn parse(text: &str, origin: &str) -> Result<Self, String> {
        let mut keys = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        let (Some(line), None) = (keys.next(), keys.next()) else {
            return Err(
                "holds no identity, or more than one: give one AGE-SECRET-KEY-1... line".into(),
            );
        };
        let identity: age::x25519::Identity = line
            .parse()
            .map_err(|e: &str| format!("its key line is not an age identity ({e})"))?;
        Ok(CourseKey::Identity {
            text: format!("{}\n", identity.to_string().expose_secret()),
            recipient: identity.to_public().to_string(),
            origin: origin.to_string(),
        })
    }

    /// The recipient students encrypt to, when there is an identity.
    pub fn recipient(&self) -> Option<&str> {
        match self {
            CourseKey::Identity { recipient, .. } => Some(recipient),
            CourseKey::Absent => None,
        }
    }

    /// The identity file's text, when there is one.
    pub fn identity(&self) -> Option<&str> {
        match self {
            CourseKey::Identity { text, .. } => Some(text),
            CourseKey::Absent => None,
        }
    }

    /// The files a judge step that asks for the key finds in [`MOUNT`], by
    /// name: the identity and its recipient.
    pub fn mounted_files(&self) -> Option<Vec<(&'static str, String)>> {
        match self {
            CourseKey::Identity {
                text, recipient, ..
            } => Some(vec![
                (FILE_NAME, text.clone()),
                (RECIPIENT_FILE, format!("{recipient}\n")),
            ]),
            CourseKey::Absent => None,
        }
    }
}

/// A new course key for a term: the identity file's text (with the recipient
/// as a comment, as `age-keygen` writes it) and its recipient.
pub fn generate() -> (String, String) {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let text = format!(
        "# A course key made by `grader course-key new`.\n\
         # Keep it with the instructors; give the students only the recipient.\n\
         # public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    );
    (text, recipient)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_practice_key_is_the_one_the_labs_publish() {
        assert_eq!(
            CourseKey::practice().recipient(),
            Some("age1vndujzkd5arc0sgc37jk62qnmkr2qrk3y8vwpplq9rwpagsneq9q67qryl")
        );
    }

    #[test]
    fn a_new_key_reads_back_with_its_recipient() {
        let (text, recipient) = generate();
        let key = CourseKey::parse(&text, "new").expect("a new key parses");
        assert_eq!(key.recipient(), Some(recipient.as_str()));
        assert!(
            key.identity()
                .is_some_and(|t| t.starts_with("AGE-SECRET-KEY-1"))
        );
    }

    #[test]
    fn files_without_exactly_one_identity_are_refused() {
        for text in [
            "",
            "# only a comment\n",
            "age1vndujzkd5arc0sgc37jk62qnmkr2qrk3y8vwpplq9rwpagsneq9q67qryl\n",
        ] {
            assert!(CourseKey::parse(text, "t").is_err(), "{text:?}");
        }
        let two = format!("{}{}", generate().0, generate().0);
        assert!(CourseKey::parse(&two, "t").is_err());
    }

    #[test]
    fn debug_never_shows_the_identity() {
        let shown = format!("{:?}", CourseKey::practice());
        assert!(!shown.contains("AGE-SECRET-KEY"), "{shown}");
    }

    #[test]
    fn none_and_practice_are_words_and_anything_else_a_path() {
        assert!(matches!(CourseKey::from_arg("none"), Ok(CourseKey::Absent)));
        assert!(CourseKey::from_arg("practice").is_ok());
        let err = CourseKey::from_arg("/nonexistent/key.txt").expect_err("no such file");
        assert!(
            err.contains("/nonexistent/key.txt") && err.contains("cannot read"),
            "{err}"
        );
    }
}
