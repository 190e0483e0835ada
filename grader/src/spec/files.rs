//! File checks and repository checks: rules on files a command wrote or the
//! submission holds, and on the submission's git repository.
//!
//! ```toml
//! [[checks]]
//! id = "metrics.accuracy"
//! title = "metrics.json reports an accuracy of at least 0.55"
//! points = 10
//! kind = "file"
//! rule = "json"
//! from = "train"            # a command check's id; leave out for the submission's tree
//! path = "metrics.json"
//! pointer = "/accuracy"
//! min = 0.55
//!
//! [[checks]]
//! id = "git.tag"
//! title = "A release tag vX.Y.Z matches Cargo.toml's version"
//! points = 5
//! kind = "repository"
//! rule = "version-tag"
//! ```

use super::command::{regex_problem, relative_path};
use serde::Deserialize;

/// Where a file check reads its files.
#[derive(Debug, Clone, PartialEq)]
pub enum FileSource {
    /// The submission's folder, as given to the grader.
    Tree,
    /// The output folder of the command check with this id, after it ran.
    Command(String),
    /// The same, of a command run beside the service (`service = true`).
    Beside(String),
    /// The transcript of the fake with this name (`transcript.json`), once
    /// the service has stopped.
    Fake(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum FileRule {
    /// A number in a JSON file, at a JSON pointer, within bounds; or any
    /// value there equal to `equals`; or a string there holding each of
    /// `contains` (a prompt that carries the notes it was given).
    Json {
        source: FileSource,
        path: String,
        pointer: String,
        min: Option<f64>,
        max: Option<f64>,
        equals: Option<serde_json::Value>,
        contains: Vec<String>,
    },
    /// The command run a second time writes byte-identical files.
    Deterministic { from: String, paths: Vec<String> },
    /// The command `from` run again with `args` instead of its own (another
    /// seed, say) writes at least one of these files differently: a setting
    /// the program ignores changes nothing.
    Differs {
        from: String,
        args: Vec<String>,
        paths: Vec<String>,
    },
    /// A Markdown file has these `##` sections, each with enough words.
    MarkdownSections {
        source: FileSource,
        path: String,
        sections: Vec<String>,
        min_words: usize,
    },
    /// No secret in the submission's files, nor (with `history`) in any commit.
    SecretScan { history: bool },
    /// A TOML file parses and has these keys, each a table (dotted paths such
    /// as `graph.targets` reach into tables).
    TomlKeys {
        source: FileSource,
        path: String,
        tables: Vec<String>,
    },
    /// A JSON Lines file (one object per line: a run log) with `records`
    /// records, each holding every pointer of `fields`, together covering the
    /// values of `covers`; with `best`, the record another file chooses is the
    /// best of them all.
    JsonLines {
        source: FileSource,
        path: String,
        records: Option<usize>,
        fields: Vec<String>,
        covers: Option<Covers>,
        best: Option<Best>,
    },
}

/// Values that must each appear, at `pointer`, in some record of a JSON
/// Lines file: every setting a sweep was asked to try.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Covers {
    pub pointer: String,
    pub values: Vec<serde_json::Value>,
}

/// The record a JSON file chooses (the value at `at` in `chosen`, matched
/// with each record's `key`) is the best of the log by `by`: no record's
/// value there is higher (`goal = "max"`) or lower (`"min"`). Ties pass.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Best {
    pub by: String,
    pub goal: Goal,
    pub key: String,
    pub chosen: String,
    pub at: String,
}

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Goal {
    Max,
    Min,
}

impl FileRule {
    /// Where the rules that read one file read it.
    fn source(&self) -> Option<&FileSource> {
        match self {
            FileRule::Json { source, .. }
            | FileRule::MarkdownSections { source, .. }
            | FileRule::TomlKeys { source, .. }
            | FileRule::JsonLines { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The command check whose run the rule reads, if any.
    pub fn command(&self) -> Option<&str> {
        match (self, self.source()) {
            (_, Some(FileSource::Command(id) | FileSource::Beside(id))) => Some(id),
            (FileRule::Deterministic { from, .. } | FileRule::Differs { from, .. }, _) => {
                Some(from)
            }
            _ => None,
        }
    }

    /// Whether the rule reads what a command beside the service wrote (and
    /// so is judged beside the service, after that command).
    pub fn beside(&self) -> bool {
        matches!(self.source(), Some(FileSource::Beside(_)))
    }

    /// The fake whose transcript the rule reads, if any.
    pub fn fake(&self) -> Option<&str> {
        match self.source() {
            Some(FileSource::Fake(name)) => Some(name),
            _ => None,
        }
    }

    /// Renames the command check the rule reads (a composed lab's ids gain
    /// their lab's prefix).
    pub(super) fn rename_command(&mut self, rename: &dyn Fn(&str) -> String) {
        match self {
            FileRule::Deterministic { from, .. } | FileRule::Differs { from, .. } => {
                *from = rename(from);
            }
            FileRule::Json { source, .. }
            | FileRule::MarkdownSections { source, .. }
            | FileRule::TomlKeys { source, .. }
            | FileRule::JsonLines { source, .. } => {
                if let FileSource::Command(id) | FileSource::Beside(id) = source {
                    *id = rename(id);
                }
            }
            FileRule::SecretScan { .. } => {}
        }
    }

    /// Marks a rule that reads the output of one of `beside` (the commands
    /// that run beside the service) as reading it there.
    pub(super) fn resolve_beside(&mut self, beside: &[&str]) {
        if let FileRule::Json { source, .. }
        | FileRule::MarkdownSections { source, .. }
        | FileRule::TomlKeys { source, .. }
        | FileRule::JsonLines { source, .. } = self
            && let FileSource::Command(id) = source
            && beside.contains(&id.as_str())
        {
            *source = FileSource::Beside(std::mem::take(id));
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum RepoRule {
    /// At least `min_percent` of the non-merge commits follow Conventional Commits.
    ConventionalCommits { min_percent: u8, types: Vec<String> },
    /// A tag `vX.Y.Z` equal to the version in the manifest at HEAD.
    VersionTag { manifest: String },
    /// No tracked path at HEAD matches these globs.
    AbsentPaths { globs: Vec<String> },
    /// No tracked file at HEAD is larger than this.
    MaxFileSize { max_kb: u64 },
    /// The committed ignore files make git ignore these paths (a trailing `/`
    /// marks a folder).
    Ignores { paths: Vec<String> },
}

/// The types Conventional Commits' usual convention (Angular's) allows.
pub const DEFAULT_TYPES: &[&str] = &[
    "feat", "fix", "docs", "style", "refactor", "perf", "test", "build", "ci", "chore", "revert",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonFields {
    from: Option<String>,
    path: String,
    pointer: String,
    min: Option<f64>,
    max: Option<f64>,
    equals: Option<serde_json::Value>,
    #[serde(default)]
    contains: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeterministicFields {
    from: String,
    paths: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffersFields {
    from: String,
    args: Vec<String>,
    paths: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkdownFields {
    from: Option<String>,
    path: String,
    sections: Vec<String>,
    #[serde(default = "default_min_words")]
    min_words: usize,
}

fn default_min_words() -> usize {
    20
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlKeysFields {
    from: Option<String>,
    path: String,
    tables: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLinesFields {
    from: Option<String>,
    path: String,
    records: Option<usize>,
    #[serde(default)]
    fields: Vec<String>,
    covers: Option<Covers>,
    best: Option<Best>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretScanFields {
    #[serde(default = "yes")]
    history: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConventionalFields {
    #[serde(default = "default_percent")]
    min_percent: u8,
    types: Option<Vec<String>>,
}

fn default_percent() -> u8 {
    80
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionTagFields {
    #[serde(default = "default_manifest")]
    manifest: String,
}

fn default_manifest() -> String {
    "Cargo.toml".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GlobsFields {
    globs: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaxSizeFields {
    max_kb: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IgnoresFields {
    paths: Vec<String>,
}

/// Reads a rule's own fields strictly; errors name the kind and the rule.
fn rule_fields<T: serde::de::DeserializeOwned>(
    kind: &str,
    rule: &str,
    rest: toml::Table,
) -> Result<T, String> {
    rest.try_into().map_err(|e: toml::de::Error| {
        format!("kind \"{kind}\", rule \"{rule}\": {}", e.message().trim())
    })
}

/// Takes the `rule` out of a check's own fields.
fn take_rule(kind: &str, rest: &mut toml::Table) -> Result<String, String> {
    match rest.remove("rule") {
        Some(toml::Value::String(rule)) => Ok(rule),
        Some(_) => Err(format!("kind \"{kind}\": rule must be a string")),
        None => Err(format!("kind \"{kind}\" needs a rule")),
    }
}

/// `from`: left out for the submission's tree, `fake:NAME` for a fake's
/// transcript, else a command check's id.
fn source(from: Option<String>) -> FileSource {
    match from {
        None => FileSource::Tree,
        Some(from) => match from.strip_prefix("fake:") {
            Some(name) => FileSource::Fake(name.to_string()),
            None => FileSource::Command(from),
        },
    }
}

/// Reads a `kind = "file"` check's fields.
pub(super) fn file_rule(mut rest: toml::Table) -> Result<FileRule, String> {
    let rule = take_rule("file", &mut rest)?;
    Ok(match rule.as_str() {
        "json" => {
            let f: JsonFields = rule_fields("file", &rule, rest)?;
            FileRule::Json {
                source: source(f.from),
                path: f.path,
                pointer: f.pointer,
                min: f.min,
                max: f.max,
                equals: f.equals,
                contains: f.contains,
            }
        }
        "deterministic" => {
            let f: DeterministicFields = rule_fields("file", &rule, rest)?;
            FileRule::Deterministic {
                from: f.from,
                paths: f.paths,
            }
        }
        "differs" => {
            let f: DiffersFields = rule_fields("file", &rule, rest)?;
            FileRule::Differs {
                from: f.from,
                args: f.args,
                paths: f.paths,
            }
        }
        "markdown-sections" => {
            let f: MarkdownFields = rule_fields("file", &rule, rest)?;
            FileRule::MarkdownSections {
                source: source(f.from),
                path: f.path,
                sections: f.sections,
                min_words: f.min_words,
            }
        }
        "secret-scan" => {
            let f: SecretScanFields = rule_fields("file", &rule, rest)?;
            FileRule::SecretScan { history: f.history }
        }
        "toml-keys" => {
            let f: TomlKeysFields = rule_fields("file", &rule, rest)?;
            FileRule::TomlKeys {
                source: source(f.from),
                path: f.path,
                tables: f.tables,
            }
        }
        "json-lines" => {
            let f: JsonLinesFields = rule_fields("file", &rule, rest)?;
            FileRule::JsonLines {
                source: source(f.from),
                path: f.path,
                records: f.records,
                fields: f.fields,
                covers: f.covers,
                best: f.best,
            }
        }
        other => {
            return Err(format!(
                "unknown file rule \"{other}\" (expected json, json-lines, deterministic, differs, markdown-sections, secret-scan or toml-keys)"
            ));
        }
    })
}

/// Reads a `kind = "repository"` check's fields.
pub(super) fn repo_rule(mut rest: toml::Table) -> Result<RepoRule, String> {
    let rule = take_rule("repository", &mut rest)?;
    Ok(match rule.as_str() {
        "conventional-commits" => {
            let f: ConventionalFields = rule_fields("repository", &rule, rest)?;
            RepoRule::ConventionalCommits {
                min_percent: f.min_percent,
                types: f
                    .types
                    .unwrap_or_else(|| DEFAULT_TYPES.iter().map(|t| t.to_string()).collect()),
            }
        }
        "version-tag" => {
            let f: VersionTagFields = rule_fields("repository", &rule, rest)?;
            RepoRule::VersionTag {
                manifest: f.manifest,
            }
        }
        "absent-paths" => {
            let f: GlobsFields = rule_fields("repository", &rule, rest)?;
            RepoRule::AbsentPaths { globs: f.globs }
        }
        "max-file-size" => {
            let f: MaxSizeFields = rule_fields("repository", &rule, rest)?;
            RepoRule::MaxFileSize { max_kb: f.max_kb }
        }
        "ignores" => {
            let f: IgnoresFields = rule_fields("repository", &rule, rest)?;
            RepoRule::Ignores { paths: f.paths }
        }
        other => {
            return Err(format!(
                "unknown repository rule \"{other}\" (expected conventional-commits, version-tag, absent-paths, max-file-size or ignores)"
            ));
        }
    })
}

impl FileRule {
    /// `command_ids`: the ids of the lab's command checks, with whether each has an
    /// `output_dir`.
    pub(super) fn validate(&self, commands: &[(&str, bool)]) -> Result<(), String> {
        let read = match self {
            FileRule::Json { path, .. }
            | FileRule::JsonLines { path, .. }
            | FileRule::MarkdownSections { path, .. }
            | FileRule::TomlKeys { path, .. } => Some(path.as_str()),
            _ => None,
        };
        if let Some(name) = self.fake()
            && read != Some("transcript.json")
        {
            return Err(format!(
                "path: fake \"{name}\" keeps one file, transcript.json"
            ));
        }
        if let Some(id) = self.command() {
            match commands.iter().find(|(c, _)| *c == id) {
                None => return Err(format!("from: \"{id}\" is not a command check of this lab")),
                Some((_, false)) => {
                    return Err(format!(
                        "from: the command check \"{id}\" has no output_dir to read files from"
                    ));
                }
                Some(_) => {}
            }
        }
        match self {
            FileRule::Json {
                path,
                pointer,
                min,
                max,
                equals,
                contains,
                ..
            } => {
                relative_path("path", path)?;
                if !pointer.is_empty() && !pointer.starts_with('/') {
                    return Err(format!(
                        "pointer: \"{pointer}\" is not a JSON pointer (starts with '/')"
                    ));
                }
                let kinds = [
                    equals.is_some(),
                    min.is_some() || max.is_some(),
                    !contains.is_empty(),
                ];
                match kinds.iter().filter(|k| **k).count() {
                    0 => {
                        return Err(
                            "rule \"json\" needs equals, contains, or min, max or both".into()
                        );
                    }
                    1 => {}
                    _ => {
                        return Err(
                            "rule \"json\": give one of equals, contains, or min and max".into(),
                        );
                    }
                }
                if contains.iter().any(String::is_empty) {
                    return Err("contains: an empty text would always be found".into());
                }
                if [min, max].into_iter().flatten().any(|v| !v.is_finite()) {
                    return Err("min and max must be finite numbers".into());
                }
                if let (Some(lo), Some(hi)) = (min, max)
                    && lo > hi
                {
                    return Err(format!("min {lo} is above max {hi}"));
                }
            }
            FileRule::Differs { args, .. } if args.is_empty() => {
                return Err("args: give the arguments of the run to compare with".into());
            }
            FileRule::Deterministic { paths, .. } | FileRule::Differs { paths, .. } => {
                if paths.is_empty() {
                    return Err("paths: name at least one output file".into());
                }
                for p in paths {
                    relative_path("paths", p)?;
                }
            }
            FileRule::MarkdownSections { path, sections, .. } => {
                relative_path("path", path)?;
                if sections.is_empty() || sections.iter().any(|s| s.trim().is_empty()) {
                    return Err("sections: name at least one heading, none empty".into());
                }
            }
            FileRule::TomlKeys { path, tables, .. } => {
                relative_path("path", path)?;
                if tables.is_empty()
                    || tables
                        .iter()
                        .any(|t| t.split('.').any(|part| part.trim().is_empty()))
                {
                    return Err(
                        "tables: name at least one table, as key or dotted path, none empty".into(),
                    );
                }
            }
            FileRule::JsonLines {
                path,
                records,
                fields,
                covers,
                best,
                ..
            } => {
                relative_path("path", path)?;
                if records.is_none() && fields.is_empty() && covers.is_none() && best.is_none() {
                    return Err("rule \"json-lines\" needs records, fields, covers or best".into());
                }
                if *records == Some(0) {
                    return Err(
                        "records: a log of no records proves nothing; give 1 or more".into(),
                    );
                }
                let mut pointers: Vec<(&str, &str)> =
                    fields.iter().map(|p| ("fields", p.as_str())).collect();
                if let Some(c) = covers {
                    if c.values.is_empty() {
                        return Err("covers.values: name at least one value".into());
                    }
                    pointers.push(("covers.pointer", &c.pointer));
                }
                if let Some(b) = best {
                    relative_path("best.chosen", &b.chosen)?;
                    pointers.extend([
                        ("best.by", &*b.by),
                        ("best.key", &b.key),
                        ("best.at", &b.at),
                    ]);
                }
                if let Some((field, p)) = pointers.iter().find(|(_, p)| !p.starts_with('/')) {
                    return Err(format!(
                        "{field}: \"{p}\" is not a JSON pointer (starts with '/')"
                    ));
                }
                if best.is_some() && self.fake().is_some() {
                    return Err("best: a fake keeps one file, so nothing else can choose".into());
                }
            }
            FileRule::SecretScan { .. } => {}
        }
        Ok(())
    }
}

impl RepoRule {
    pub(super) fn validate(&self) -> Result<(), String> {
        match self {
            RepoRule::ConventionalCommits { min_percent, types } => {
                if !(1..=100).contains(min_percent) {
                    return Err("min_percent must be from 1 to 100".into());
                }
                if types.is_empty() || types.iter().any(|t| t.trim().is_empty()) {
                    return Err("types: name at least one commit type, none empty".into());
                }
            }
            RepoRule::VersionTag { manifest } => relative_path("manifest", manifest)?,
            RepoRule::AbsentPaths { globs } => {
                if globs.is_empty() {
                    return Err("globs: give at least one".into());
                }
                for g in globs {
                    globset::Glob::new(g).map_err(|e| {
                        format!("globs: \"{g}\": {}", regex_problem(&e.to_string()))
                    })?;
                }
            }
            RepoRule::MaxFileSize { max_kb } if *max_kb == 0 => {
                return Err("max_kb must be above 0".into());
            }
            RepoRule::Ignores { paths } => {
                if paths.is_empty() {
                    return Err("paths: give at least one".into());
                }
                for p in paths {
                    relative_path("paths", p.trim_end_matches('/'))?;
                }
            }
            RepoRule::MaxFileSize { .. } => {}
        }
        Ok(())
    }
}
