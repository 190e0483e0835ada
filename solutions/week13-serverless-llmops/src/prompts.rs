//! Versioned prompt templates, read from `prompts/<name>/v<N>.txt`.
//!
//! A version is immutable: its id is `<name>@v<N>` and its hash the SHA-256
//! of the file's bytes exactly as read, so two runs that report the same hash
//! sent the same template, whatever anyone remembers changing. A template is
//! parsed when it is read, so a broken placeholder stops the run before any
//! call, and rendering is strict both ways: a placeholder without a value
//! and a value without a placeholder (usually a typo) are errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::AppError;

/// One piece of a parsed template: literal text or a `{{variable}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(String),
}

/// One version of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub version: u32,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub hash: String,
    pub path: PathBuf,
    pieces: Vec<Piece>,
}

/// Why a template cannot be parsed or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the placeholder opened at byte {0} is never closed with `}}}}`")]
    Unclosed(usize),
    #[error("`{{{{{0}}}}}` is not a valid placeholder (use a-z, 0-9 and _)")]
    BadPlaceholder(String),
    #[error("no value is given for `{{{{{0}}}}}`")]
    MissingVariable(String),
    #[error("a value is given for `{0}`, which the template does not use")]
    UnusedVariable(String),
}

/// A placeholder or prompt name: lowercase ASCII letters, digits and `_`.
fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Splits a template into text and placeholders.
fn parse(body: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = body;
    let mut offset = 0;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or(TemplateError::Unclosed(offset + start))?;
        let name = after[..end].trim();
        if !is_name(name) {
            return Err(TemplateError::BadPlaceholder(name.to_owned()));
        }
        pieces.push(Piece::Var(name.to_owned()));
        let consumed = start + 2 + end + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    Ok(pieces)
}

impl Template {
    /// A template from a file's bytes; `path` names it in errors.
    pub fn from_bytes(
        name: &str,
        version: u32,
        path: &Path,
        bytes: &[u8],
    ) -> Result<Self, AppError> {
        let body = std::str::from_utf8(bytes)
            .map_err(|_| AppError::input(path, "a prompt template must be UTF-8 text"))?;
        let pieces = parse(body).map_err(|err| AppError::input(path, err.to_string()))?;
        Ok(Template {
            name: name.to_owned(),
            version,
            hash: crate::sha256_hex(bytes),
            path: path.to_owned(),
            pieces,
        })
    }

    /// `name@vN`: how the report, the logs and the ledger refer to it.
    pub fn id(&self) -> String {
        format!("{}@v{}", self.name, self.version)
    }

    /// The placeholders the template uses, sorted, each once.
    pub fn variables(&self) -> Vec<&str> {
        let mut vars: Vec<&str> = self
            .pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Var(v) => Some(v.as_str()),
                Piece::Text(_) => None,
            })
            .collect();
        vars.sort_unstable();
        vars.dedup();
        vars
    }

    /// Fills every placeholder from `values`. Strict both ways.
    pub fn render(&self, values: &BTreeMap<String, String>) -> Result<String, TemplateError> {
        let used = self.variables();
        if let Some(extra) = values.keys().find(|k| !used.contains(&k.as_str())) {
            return Err(TemplateError::UnusedVariable(extra.clone()));
        }
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Var(var) => out.push_str(
                    values
                        .get(var)
                        .ok_or_else(|| TemplateError::MissingVariable(var.clone()))?,
                ),
            }
        }
        Ok(out)
    }
}

/// Every version of one prompt, `v1` first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub name: String,
    pub versions: Vec<Template>,
}

/// `v<N>.txt` with N a whole number from 1, without leading zeros (so that
/// `v01.txt` and `v1.txt` cannot both claim version 1).
fn version_of(file_name: &str) -> Option<u32> {
    let digits = file_name.strip_prefix('v')?.strip_suffix(".txt")?;
    if digits.starts_with('0') || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n >= 1)
}

/// Names in a folder, sorted, hidden ones (`.gitkeep`) left out.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, AppError> {
    let listing = std::fs::read_dir(dir).map_err(|e| AppError::read(dir, e))?;
    let mut names = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| AppError::read(dir, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(AppError::input(path, "the name is not UTF-8"));
        };
        if !name.starts_with('.') {
            names.push((name, path));
        }
    }
    names.sort();
    Ok(names)
}

/// Reads every prompt under `dir`: one folder per prompt, sorted by name,
/// each holding `v1.txt`, `v2.txt`, … with no gaps. Anything else in there
/// is an error rather than ignored: a `v2.md` or `V3.txt` silently left out
/// would be a version nobody evaluated.
pub fn load(dir: &Path) -> Result<Vec<Prompt>, AppError> {
    let mut prompts = Vec::new();
    for (name, path) in entries(dir)? {
        if !path.is_dir() {
            return Err(AppError::input(
                path,
                "not a prompt folder (prompts/<name>/v<N>.txt)",
            ));
        }
        if !is_name(&name) {
            return Err(AppError::input(
                path,
                "a prompt name uses a-z, 0-9 and _ only",
            ));
        }
        let mut found = Vec::new();
        for (file, file_path) in entries(&path)? {
            let Some(version) = version_of(&file) else {
                return Err(AppError::input(
                    file_path,
                    "not a prompt version: name versions v1.txt, v2.txt, …",
                ));
            };
            found.push((version, file_path));
        }
        found.sort();
        let mut versions = Vec::new();
        for (expected, (version, file_path)) in (1..).zip(found) {
            if version != expected {
                return Err(AppError::input(
                    &path,
                    format!("v{expected}.txt is missing: versions count 1, 2, … without gaps"),
                ));
            }
            let bytes = std::fs::read(&file_path).map_err(|e| AppError::read(&file_path, e))?;
            versions.push(Template::from_bytes(&name, version, &file_path, &bytes)?);
        }
        if versions.is_empty() {
            return Err(AppError::input(path, "the prompt has no versions (v1.txt)"));
        }
        prompts.push(Prompt { name, versions });
    }
    if prompts.is_empty() {
        return Err(AppError::input(
            dir,
            "no prompts: add prompts/<name>/v1.txt",
        ));
    }
    Ok(prompts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(body: &str) -> Template {
        Template::from_bytes("explain", 2, Path::new("v2.txt"), body.as_bytes()).expect("parses")
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn rendering_fills_every_placeholder_and_is_strict_both_ways() {
        let t = template("Q: {{question}}\nWine {{ wine_id }}, again {{question}}.\n");
        assert_eq!(t.id(), "explain@v2");
        assert_eq!(t.variables(), ["question", "wine_id"]);
        assert_eq!(
            t.render(&values(&[("question", "Why sour?"), ("wine_id", "7")])),
            Ok("Q: Why sour?\nWine 7, again Why sour?.\n".to_owned())
        );
        assert_eq!(
            t.render(&values(&[("question", "x")])),
            Err(TemplateError::MissingVariable("wine_id".into()))
        );
        assert_eq!(
            t.render(&values(&[
                ("question", "x"),
                ("wine_id", "1"),
                ("colour", "red")
            ])),
            Err(TemplateError::UnusedVariable("colour".into()))
        );
        // A value is inserted as it is, never parsed as a template itself.
        assert_eq!(
            template("{{a}}").render(&values(&[("a", "{{b}}")])),
            Ok("{{b}}".to_owned())
        );
    }

    #[test]
    fn the_hash_is_of_the_bytes_exactly_as_read() {
        let a = template("Answer: {{question}}\n");
        let b = template("Answer: {{question}}");
        assert_eq!(a.hash, crate::sha256_hex(b"Answer: {{question}}\n"));
        assert_ne!(a.hash, b.hash, "a trailing newline is a change");
    }

    #[test]
    fn broken_templates_are_refused_when_read() {
        let read = |body: &str| {
            Template::from_bytes("p", 1, Path::new("prompts/p/v1.txt"), body.as_bytes())
                .map(|t| t.id())
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            read("Explain {{question"),
            Err(
                "prompts/p/v1.txt: the placeholder opened at byte 8 is never closed with `}}`"
                    .into()
            )
        );
        assert_eq!(
            read("{{Question}}"),
            Err(
                "prompts/p/v1.txt: `{{Question}}` is not a valid placeholder (use a-z, 0-9 and _)"
                    .into()
            )
        );
        assert!(read("{{}}").is_err());
        assert!(
            Template::from_bytes("p", 1, Path::new("x"), b"\xff").is_err(),
            "not UTF-8"
        );
        assert_eq!(read("No placeholders } at {all"), Ok("p@v1".into()));
    }

    #[test]
    fn versions_are_named_v1_v2_without_leading_zeros() {
        assert_eq!(version_of("v1.txt"), Some(1));
        assert_eq!(version_of("v12.txt"), Some(12));
        for bad in [
            "v0.txt", "v01.txt", "v1.md", "V1.txt", "v.txt", "v1a.txt", "v-1.txt",
        ] {
            assert_eq!(version_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_prompt_folder_is_read_in_order_and_checked() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        let write = |path: &str, text: &str| {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        write("zeta/v1.txt", "{{q}}");
        write("alpha/v2.txt", "two {{q}}");
        write("alpha/v1.txt", "one {{q}}");
        write("alpha/.gitkeep", "");
        let prompts = load(root).expect("loads");
        let ids: Vec<String> = prompts
            .iter()
            .flat_map(|p| p.versions.iter().map(Template::id))
            .collect();
        assert_eq!(ids, ["alpha@v1", "alpha@v2", "zeta@v1"]);

        write("zeta/v3.txt", "{{q}}");
        let err = load(root).expect_err("a gap").to_string();
        assert!(err.contains("v2.txt is missing"), "{err}");
        std::fs::remove_file(root.join("zeta/v3.txt")).expect("rm");

        write("zeta/notes.md", "");
        let err = load(root).expect_err("a stray file").to_string();
        assert!(err.contains("notes.md"), "{err}");
    }
}
