//! Secret scanning of the submission's files and of every commit in its history:
//! private keys, AWS access keys, GitHub tokens and `password = "..."`-style
//! assignments. A finding names the file, the line and (in history) the commit,
//! and the kind of secret; never the secret itself.

use super::{Outcome, Problem};
use regex::Regex;
use std::path::Path;
use std::sync::LazyLock;

/// Files larger than this are not scanned (data sets, models): secrets live in
/// small text files.
pub const SCAN_FILE_CAP: u64 = 1 << 20;
/// The most files a tree scan reads.
pub const SCAN_MAX_FILES: usize = 20_000;

/// One kind of secret and how it is recognised.
struct Pattern {
    what: &'static str,
    regex: Regex,
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let p = |what, re: &str| Pattern {
        what,
        regex: Regex::new(re).unwrap_or_else(|e| panic!("secret pattern {what}: {e}")),
    };
    vec![
        p(
            "a private key",
            r"-----BEGIN (?:RSA |DSA |EC |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----",
        ),
        // age-keygen's identities: Bech32 of 32 bytes (58 characters).
        p(
            "an age identity",
            r"\bAGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}\b",
        ),
        p("an AWS access key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        p(
            "a GitHub token",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b",
        ),
        p(
            "a password or secret assignment",
            r#"(?i)\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|secret[_-]?key)\b["']?\s*[:=]\s*["']([^"'\s]{6,})["']"#,
        ),
    ]
});

/// Values of an assignment that are clearly not a real secret.
fn placeholder(value: &str) -> bool {
    let v = value.to_ascii_lowercase();
    v.starts_with('$')
        || v.starts_with('<')
        || v.starts_with('{')
        || v.starts_with('%')
        || [
            "example",
            "placeholder",
            "changeme",
            "change-me",
            "xxxx",
            "****",
            "redacted",
            "dummy",
        ]
        .iter()
        .any(|p| v.contains(p))
        || v.chars().all(|c| c == v.chars().next().unwrap_or(' '))
}

/// A secret found: where, and what kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub path: String,
    pub line: usize,
    pub what: &'static str,
    /// The short id of a commit that holds it, for history findings.
    pub commit: Option<String>,
}

/// Scans one text; binary content (a NUL byte early on) is skipped.
pub fn scan_text(path: &str, bytes: &[u8]) -> Vec<Finding> {
    if bytes.iter().take(8000).any(|b| *b == 0) {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(bytes);
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for pattern in PATTERNS.iter() {
            let hit = pattern.regex.captures_iter(line).any(|c| match c.get(1) {
                Some(value) => !placeholder(value.as_str()),
                None => true,
            });
            if hit {
                found.push(Finding {
                    path: path.to_string(),
                    line: i + 1,
                    what: pattern.what,
                    commit: None,
                });
            }
        }
    }
    found
}

/// Scans the submission's files (not `.git`, no links followed, big files
/// skipped).
pub fn scan_tree(root: &Path) -> Result<Vec<Finding>, Problem> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| Problem::Error(format!("cannot read {}: {e}", dir.display())))?;
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if entry.file_name() != ".git" {
                    stack.push(path);
                }
                continue;
            }
            if !kind.is_file() || entry.metadata().map_or(true, |m| m.len() > SCAN_FILE_CAP) {
                continue;
            }
            files += 1;
            if files > SCAN_MAX_FILES {
                return Err(Problem::Fail(format!(
                    "the submission has over {SCAN_MAX_FILES} files; leave build output and data out of it"
                )));
            }
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            if let Ok(bytes) = std::fs::read(&path) {
                found.extend(scan_text(&rel, &bytes));
            }
        }
    }
    Ok(found)
}

/// The verdict on what was found: names each place, never the secret.
pub fn verdict(mut found: Vec<Finding>) -> Outcome {
    if found.is_empty() {
        return Ok(());
    }
    found.sort();
    found.dedup();
    let n = found.len();
    let shown: Vec<String> = found
        .iter()
        .take(5)
        .map(|f| match &f.commit {
            Some(c) => format!("{} line {} in commit {c} ({})", f.path, f.line, f.what),
            None => format!("{} line {} ({})", f.path, f.line, f.what),
        })
        .collect();
    let more = if n > 5 {
        format!(" and {} more", n - 5)
    } else {
        String::new()
    };
    let in_history = found.iter().any(|f| f.commit.is_some());
    let advice = if in_history {
        "revoke them, then remove them from the history too (a new commit is not enough)"
    } else {
        "revoke them and load secrets from the environment instead"
    };
    Err(Problem::Fail(format!(
        "{n} possible secret{} found: {}{more}; {advice}",
        if n > 1 { "s" } else { "" },
        shown.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<&'static str> {
        scan_text("f", text.as_bytes())
            .into_iter()
            .map(|f| f.what)
            .collect()
    }

    // Built from parts so that this file itself holds no secret-shaped line.
    fn key_header() -> String {
        format!("-----BEGIN {}PRIVATE KEY-----", "OPENSSH ")
    }

    #[test]
    fn recognises_each_kind_of_secret() {
        assert_eq!(
            kinds(&format!("{}\nb3Blbn...\n", key_header())),
            vec!["a private key"]
        );
        assert_eq!(
            kinds(&format!("-----BEGIN {}PRIVATE KEY-----", "RSA ")),
            vec!["a private key"]
        );
        assert_eq!(
            kinds(&format!(
                "aws_access_key_id = {}{}",
                "AKIA", "IOSFODNN7ABCDEFG"
            )),
            vec!["an AWS access key"]
        );
        assert_eq!(
            kinds(&format!(
                "token: {}{}",
                "ghp_",
                "a".repeat(18) + &"B1".repeat(9)
            )),
            vec!["a GitHub token"]
        );
        assert_eq!(
            kinds(&format!(
                "# public key: age1...\n{}{}\n",
                "AGE-SECRET-KEY-1", "QYZXW3N8KD4LT7SDVEZ0P3M5RH2GJXW9C6UEY8AQN5T0Z3F7LKDSQ2P9RM"
            )),
            vec!["an age identity"]
        );
        assert_eq!(
            kinds(&format!("{} = \"hunter2-{}\"", "password", "rosebud")),
            vec!["a password or secret assignment"]
        );
        assert_eq!(
            kinds(&format!("\"{}\": \"s3cr3t-v4lue\"", "api_key")),
            vec!["a password or secret assignment"]
        );
    }

    #[test]
    fn leaves_ordinary_text_and_placeholders_alone() {
        for ok in [
            "let password = std::env::var(\"DB_PASSWORD\")?;",
            "password = \"${DB_PASSWORD}\"",
            "password = \"<your password>\"",
            "api_key = \"changeme\"",
            "secret = \"xxxxxxxx\"",
            "password = \"\"",
            "The public key is fine: -----BEGIN PUBLIC KEY-----",
            "AKIA is how AWS key ids start",
            "ghp_short",
        ] {
            assert!(kinds(ok).is_empty(), "{ok}: {:?}", kinds(ok));
        }
        let mut binary = vec![0u8; 10];
        binary.extend_from_slice(key_header().as_bytes());
        assert!(scan_text("model.bin", &binary).is_empty());
    }

    #[test]
    fn the_verdict_names_places_never_secrets() {
        let secret = format!("{}{}", "AKIA", "IOSFODNN7ABCDEFG");
        let mut found = scan_text("deploy/.env", format!("\n\nKEY={secret}\n").as_bytes());
        found.push(Finding {
            path: "config.toml".into(),
            line: 4,
            what: "a password or secret assignment",
            commit: Some("1a2b3c4d".into()),
        });
        let m = match verdict(found) {
            Err(Problem::Fail(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(m.starts_with("2 possible secrets found: "), "{m}");
        assert!(m.contains("config.toml line 4 in commit 1a2b3c4d"), "{m}");
        assert!(m.contains("deploy/.env line 3 (an AWS access key)"), "{m}");
        assert!(m.contains("history"), "{m}");
        assert!(!m.contains(&secret), "{m}");
        assert!(verdict(Vec::new()).is_ok());
    }

    #[test]
    fn the_tree_scan_skips_git_and_links() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path();
        std::fs::create_dir_all(p.join(".git")).expect("mkdir");
        std::fs::create_dir_all(p.join("src")).expect("mkdir");
        std::fs::write(p.join(".git/config"), key_header()).expect("write");
        std::fs::write(p.join("src/main.rs"), "fn main() {}\n").expect("write");
        std::os::unix::fs::symlink("/etc/ssh/ssh_host_rsa_key", p.join("k")).expect("link");
        assert!(scan_tree(p).expect("scan").is_empty());
        std::fs::write(p.join("src/id_ed25519"), key_header()).expect("write");
        let found = scan_tree(p).expect("scan");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "src/id_ed25519");
        assert_eq!(found[0].line, 1);
    }
}
