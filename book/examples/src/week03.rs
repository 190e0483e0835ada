//! Week 3: Git practice and GitOps.
//!
//! Two tools: a GitOps planner that compares the desired state of model
//! deployments (written in Git) with the live state (reported by the
//! platform) and prints the changes that would make them equal; and a checker
//! for conventional commit messages, with the version bump they imply.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

// ANCHOR: state
// ANCHOR: state_types
/// One model deployment, as a GitOps tool sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    pub name: String,
    /// Container image, pinned to a tag or a digest.
    pub image: String,
    pub replicas: u32,
    /// Version of the model artifact the service loads.
    pub model_version: String,
}

/// A state file: `[[deployment]]` tables, one per deployment.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    #[serde(default)]
    deployment: Vec<Deployment>,
}

/// A whole state, keyed by deployment name. A `BTreeMap` iterates in name
/// order, which is what makes every plan come out in the same order.
pub type State = BTreeMap<String, Deployment>;
// ANCHOR_END: state_types

// ANCHOR: state_parse
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StateError {
    #[error("not a valid state file: {0}")]
    Parse(String),
    #[error("deployment `{0}` is declared twice")]
    Duplicate(String),
    #[error("deployment `{name}`: `{field}` {reason}")]
    Invalid {
        name: String,
        field: &'static str,
        reason: String,
    },
}

/// Parses and checks a state file written in TOML.
pub fn parse_state(text: &str) -> Result<State, StateError> {
    let file: StateFile = toml::from_str(text).map_err(|e| StateError::Parse(e.to_string()))?;
    let mut state = State::new();
    for deployment in file.deployment {
        check_deployment(&deployment)?;
        let name = deployment.name.clone();
        if state.insert(name.clone(), deployment).is_some() {
            return Err(StateError::Duplicate(name));
        }
    }
    Ok(state)
}
// ANCHOR_END: state_parse

// ANCHOR: state_check
fn check_deployment(d: &Deployment) -> Result<(), StateError> {
    let invalid = |field, reason: &str| StateError::Invalid {
        name: d.name.clone(),
        field,
        reason: reason.to_owned(),
    };
    let dns_label = |s: &str| {
        (1..=63).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    if !dns_label(&d.name) {
        return Err(invalid(
            "name",
            "must be 1 to 63 lowercase letters, digits or '-'",
        ));
    }
    // A tag after the last '/', or a digest: `latest` or no tag at all would
    // let the same desired state mean different images on different days.
    let last = d.image.rsplit('/').next().unwrap_or_default();
    let pinned = d.image.contains("@sha256:")
        || last
            .split_once(':')
            .is_some_and(|(_, tag)| !tag.is_empty() && tag != "latest");
    if !pinned {
        return Err(invalid(
            "image",
            "must be pinned to a tag other than `latest` or to a digest",
        ));
    }
    if d.replicas > 50 {
        return Err(invalid("replicas", "must be at most 50"));
    }
    if d.model_version.trim().is_empty() {
        return Err(invalid("model_version", "must not be empty"));
    }
    Ok(())
}
// ANCHOR_END: state_check
// ANCHOR_END: state

// ANCHOR: plan
// ANCHOR: plan_types
/// One field that differs between live and desired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: &'static str,
    pub live: String,
    pub desired: String,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create(Deployment),
    Update {
        desired: Deployment,
        changes: Vec<FieldChange>,
    },
    Delete(Deployment),
}

/// The steps that take the live state to the desired one, in name order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub actions: Vec<Action>,
}
// ANCHOR_END: plan_types

// ANCHOR: plan_fn
/// Compares desired and live state. A pure function: the same two states
/// always give the same plan, which is what lets us snapshot-test it.
pub fn plan(desired: &State, live: &State) -> Plan {
    let names: BTreeSet<&String> = desired.keys().chain(live.keys()).collect();
    let actions = names
        .into_iter()
        .filter_map(|name| match (desired.get(name), live.get(name)) {
            (Some(want), None) => Some(Action::Create(want.clone())),
            (None, Some(have)) => Some(Action::Delete(have.clone())),
            (Some(want), Some(have)) => {
                let changes = diff_fields(have, want);
                (!changes.is_empty()).then(|| Action::Update {
                    desired: want.clone(),
                    changes,
                })
            }
            (None, None) => None,
        })
        .collect();
    Plan { actions }
}
// ANCHOR_END: plan_fn

// ANCHOR: plan_diff
fn diff_fields(live: &Deployment, desired: &Deployment) -> Vec<FieldChange> {
    let fields = [
        ("image", live.image.clone(), desired.image.clone()),
        (
            "replicas",
            live.replicas.to_string(),
            desired.replicas.to_string(),
        ),
        (
            "model_version",
            live.model_version.clone(),
            desired.model_version.clone(),
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, have, want)| have != want)
        .map(|(field, live, desired)| FieldChange {
            field,
            live,
            desired,
        })
        .collect()
}
// ANCHOR_END: plan_diff
// ANCHOR_END: plan

// ANCHOR: display
impl fmt::Display for Plan {
    /// The plan as people (and snapshot tests) read it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.actions.is_empty() {
            return writeln!(f, "No changes: live state matches desired state.");
        }
        let (mut create, mut update, mut delete) = (0, 0, 0);
        for action in &self.actions {
            match action {
                Action::Create(d) => {
                    create += 1;
                    writeln!(
                        f,
                        "+ create {} (image={}, replicas={}, model_version={})",
                        d.name, d.image, d.replicas, d.model_version
                    )?;
                }
                Action::Update { desired, changes } => {
                    update += 1;
                    writeln!(f, "~ update {}", desired.name)?;
                    for c in changes {
                        writeln!(f, "    {}: {} -> {}", c.field, c.live, c.desired)?;
                    }
                }
                Action::Delete(d) => {
                    delete += 1;
                    writeln!(f, "- delete {}", d.name)?;
                }
            }
        }
        writeln!(
            f,
            "Plan: {create} to create, {update} to update, {delete} to delete."
        )
    }
}
// ANCHOR_END: display

// ANCHOR: apply
/// What a reconciler does with a plan: carries it out against the live
/// state. Here the "platform" is a map; in a cluster it is the API server.
pub fn apply(live: &mut State, plan: &Plan) {
    for action in &plan.actions {
        match action {
            Action::Create(d) | Action::Update { desired: d, .. } => {
                live.insert(d.name.clone(), d.clone());
            }
            Action::Delete(d) => {
                live.remove(&d.name);
            }
        }
    }
}
// ANCHOR_END: apply

// ANCHOR: commit
// ANCHOR: commit_types
/// The commit types this project accepts (those of the Angular convention,
/// which commitlint's conventional preset also uses).
pub const COMMIT_TYPES: [&str; 11] = [
    "build", "chore", "ci", "docs", "feat", "fix", "perf", "refactor", "revert", "style", "test",
];

/// Longest allowed header line.
pub const MAX_HEADER: usize = 72;

/// A parsed commit header: `type(scope)!: description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit<'a> {
    pub kind: &'a str,
    pub scope: Option<&'a str>,
    /// A `!` after the type or scope, or a `BREAKING CHANGE:` footer.
    pub breaking: bool,
    pub description: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error("the message is empty")]
    Empty,
    #[error("the header must look like `type(scope): description`")]
    Shape,
    #[error("unknown type `{0}`; use one of {types}", types = COMMIT_TYPES.join(", "))]
    UnknownType(String),
    #[error("the scope in parentheses must not be empty")]
    EmptyScope,
    #[error("the description after `: ` must not be empty")]
    EmptyDescription,
    #[error("the header is {0} characters long; the limit is {MAX_HEADER}")]
    TooLong(usize),
    #[error("leave one blank line between the header and the body")]
    NoBlankLine,
}
// ANCHOR_END: commit_types

// ANCHOR: commit_message
/// Checks a commit message against the Conventional Commits rules.
pub fn check_commit(message: &str) -> Result<Commit<'_>, CommitError> {
    let mut lines = message.lines();
    let header = lines.next().filter(|h| !h.trim().is_empty());
    let header = header.ok_or(CommitError::Empty)?;
    let length = header.chars().count();
    if length > MAX_HEADER {
        return Err(CommitError::TooLong(length));
    }
    if lines.next().is_some_and(|second| !second.trim().is_empty()) {
        return Err(CommitError::NoBlankLine);
    }
    // ANCHOR_END: commit_message

    // ANCHOR: commit_header
    let (prefix, description) = header.split_once(": ").ok_or(CommitError::Shape)?;
    let (prefix, bang) = match prefix.strip_suffix('!') {
        Some(rest) => (rest, true),
        None => (prefix, false),
    };
    let (kind, scope) = match prefix.split_once('(') {
        Some((kind, rest)) => {
            let scope = rest.strip_suffix(')').ok_or(CommitError::Shape)?;
            if scope.trim().is_empty() {
                return Err(CommitError::EmptyScope);
            }
            (kind, Some(scope))
        }
        None => (prefix, None),
    };
    if !COMMIT_TYPES.contains(&kind) {
        return Err(CommitError::UnknownType(kind.to_owned()));
    }
    if description.trim().is_empty() {
        return Err(CommitError::EmptyDescription);
    }
    let footer_breaking = message
        .lines()
        .skip(1)
        .any(|line| line.starts_with("BREAKING CHANGE: ") || line.starts_with("BREAKING-CHANGE: "));
    Ok(Commit {
        kind,
        scope,
        breaking: bang || footer_breaking,
        description,
    })
}
// ANCHOR_END: commit_header
// ANCHOR_END: commit

// ANCHOR: version
// ANCHOR: version_type
/// A release version `major.minor.patch`, as in `Cargo.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl std::str::FromStr for Version {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('.').collect();
        let number = |p: &str| {
            p.parse::<u64>()
                .ok()
                .filter(|_| p == "0" || !p.starts_with('0'))
                .ok_or_else(|| format!("`{s}` is not a version like 1.2.3"))
        };
        match parts.as_slice() {
            [major, minor, patch] => Ok(Version {
                major: number(major)?,
                minor: number(minor)?,
                patch: number(patch)?,
            }),
            _ => Err(format!("`{s}` is not a version like 1.2.3")),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}
// ANCHOR_END: version_type

// ANCHOR: version_next
/// The next release after `current`, given the commits since it: a breaking
/// change bumps major (minor while the major is 0), a `feat` bumps minor, a
/// `fix` or `perf` bumps patch; anything else needs no release.
pub fn next_version(current: Version, commits: &[Commit<'_>]) -> Option<Version> {
    let breaking = commits.iter().any(|c| c.breaking);
    let feature = commits.iter().any(|c| c.kind == "feat");
    let fix = commits.iter().any(|c| c.kind == "fix" || c.kind == "perf");
    let Version {
        major,
        minor,
        patch,
    } = current;
    if breaking && major > 0 {
        Some(Version {
            major: major + 1,
            minor: 0,
            patch: 0,
        })
    } else if breaking || feature {
        Some(Version {
            major,
            minor: minor + 1,
            patch: 0,
        })
    } else if fix {
        Some(Version {
            major,
            minor,
            patch: patch + 1,
        })
    } else {
        None
    }
}
// ANCHOR_END: version_next

// ANCHOR: version_tag
/// Checks that a release tag names the version in `Cargo.toml`: `v` + version.
pub fn check_tag(tag: &str, cargo_version: &str) -> Result<(), String> {
    let version: Version = cargo_version.parse()?;
    let expected = format!("v{version}");
    if tag == expected {
        Ok(())
    } else {
        Err(format!(
            "tag `{tag}` does not match Cargo.toml's version {version}; expected `{expected}`"
        ))
    }
}
// ANCHOR_END: version_tag
// ANCHOR_END: version

#[cfg(test)]
mod tests {
    use super::*;

    // ANCHOR: fixtures
    const DESIRED: &str = r#"
[[deployment]]
name = "wine-service"
image = "registry.example.com/wine-service:0.3.0"
replicas = 3
model_version = "tree-d4-5f2c9a1b7e3d"

[[deployment]]
name = "wine-canary"
image = "registry.example.com/wine-service:0.4.0-rc.1"
replicas = 1
model_version = "tree-d6-0a9e4411c2b8"
"#;

    const LIVE: &str = r#"
[[deployment]]
name = "wine-service"
image = "registry.example.com/wine-service:0.2.1"
replicas = 2
model_version = "tree-d4-5f2c9a1b7e3d"

[[deployment]]
name = "wine-legacy"
image = "registry.example.com/wine-legacy:1.0.0"
replicas = 1
model_version = "linear-1"
"#;
    // ANCHOR_END: fixtures

    fn state(text: &str) -> State {
        parse_state(text).expect("valid state")
    }

    // ANCHOR: plan_test
    #[test]
    fn plan_lists_creates_updates_and_deletes_in_name_order() {
        let plan = plan(&state(DESIRED), &state(LIVE));
        assert_eq!(
            plan.to_string(),
            "\
+ create wine-canary (image=registry.example.com/wine-service:0.4.0-rc.1, replicas=1, model_version=tree-d6-0a9e4411c2b8)
- delete wine-legacy
~ update wine-service
    image: registry.example.com/wine-service:0.2.1 -> registry.example.com/wine-service:0.3.0
    replicas: 2 -> 3
Plan: 1 to create, 1 to update, 1 to delete.
"
        );
    }

    #[test]
    fn applying_the_plan_converges_and_a_second_plan_is_empty() {
        let desired = state(DESIRED);
        let mut live = state(LIVE);
        let first = plan(&desired, &live);
        apply(&mut live, &first);
        assert_eq!(live, desired);
        let again = plan(&desired, &live);
        assert!(again.actions.is_empty());
        assert_eq!(
            again.to_string(),
            "No changes: live state matches desired state.\n"
        );
    }
    // ANCHOR_END: plan_test

    #[test]
    fn the_order_of_the_file_does_not_change_the_plan() {
        let blocks: Vec<&str> = DESIRED
            .split("[[deployment]]")
            .filter(|block| !block.trim().is_empty())
            .collect();
        let reversed: String = blocks
            .iter()
            .rev()
            .map(|block| format!("[[deployment]]{block}"))
            .collect();
        let a = plan(&state(DESIRED), &state(LIVE));
        let b = plan(&state(&reversed), &state(LIVE));
        assert_eq!(a, b);
    }

    #[test]
    fn an_empty_desired_state_deletes_everything() {
        let plan = plan(&State::new(), &state(LIVE));
        assert_eq!(plan.actions.len(), 2);
        assert!(plan.actions.iter().all(|a| matches!(a, Action::Delete(_))));
    }

    #[test]
    fn bad_state_files_are_refused() {
        let dup = format!(
            "{DESIRED}\n{}",
            &DESIRED[..DESIRED
                .find("[[deployment]]\nname = \"wine-canary\"")
                .expect("present")]
        );
        assert_eq!(
            parse_state(&dup),
            Err(StateError::Duplicate("wine-service".to_owned()))
        );
        for (from, to, field) in [
            (":0.3.0", ":latest", "image"),
            (":0.3.0", "", "image"),
            ("replicas = 3", "replicas = 500", "replicas"),
            ("name = \"wine-service\"", "name = \"Wine_Service\"", "name"),
        ] {
            let text = DESIRED.replacen(from, to, 1);
            assert!(
                matches!(parse_state(&text), Err(StateError::Invalid { field: f, .. }) if f == field),
                "{from} -> {to}"
            );
        }
        assert!(matches!(
            parse_state("[[deployment]]\nname = \"x\"\n"),
            Err(StateError::Parse(_))
        ));
        let digest = DESIRED.replacen(":0.3.0", "@sha256:0123abcd", 1);
        assert!(parse_state(&digest).is_ok());
    }

    // ANCHOR: commit_tests
    #[test]
    fn good_commit_messages_parse() {
        let c = check_commit("feat(api): add /version endpoint").expect("valid");
        assert_eq!(c.kind, "feat");
        assert_eq!(c.scope, Some("api"));
        assert!(!c.breaking);

        let c = check_commit("fix!: reject NaN in inputs").expect("valid");
        assert!(c.breaking);

        let body = "refactor(model): store the tree as JSON\n\nSmaller artifacts.\n\n\
BREAKING CHANGE: artifacts from 0.2 no longer load";
        assert!(check_commit(body).expect("valid").breaking);
    }

    #[test]
    fn bad_commit_messages_are_refused_with_a_reason() {
        let long = format!("fix: {}", "x".repeat(80));
        let cases = [
            ("", CommitError::Empty),
            ("updated stuff", CommitError::Shape),
            (
                "feature: add caching",
                CommitError::UnknownType("feature".into()),
            ),
            ("fix(): typo", CommitError::EmptyScope),
            ("fix:  ", CommitError::EmptyDescription),
            ("fix(api: typo", CommitError::Shape),
            (long.as_str(), CommitError::TooLong(85)),
            ("fix: typo\nmore text", CommitError::NoBlankLine),
        ];
        for (message, expected) in cases {
            assert_eq!(check_commit(message), Err(expected), "{message:?}");
        }
    }
    // ANCHOR_END: commit_tests

    #[test]
    fn versions_bump_by_the_strongest_change() {
        let v = |s: &str| s.parse::<Version>().expect("valid version");
        let commits = |messages: &[&'static str]| -> Vec<Commit<'static>> {
            messages
                .iter()
                .map(|m| check_commit(m).expect("valid"))
                .collect()
        };
        let fix = commits(&["fix: handle empty batch", "docs: typo"]);
        let feat = commits(&["fix: a", "feat: b"]);
        let breaking = commits(&["feat!: new request schema"]);
        assert_eq!(next_version(v("1.4.2"), &fix), Some(v("1.4.3")));
        assert_eq!(next_version(v("1.4.2"), &feat), Some(v("1.5.0")));
        assert_eq!(next_version(v("1.4.2"), &breaking), Some(v("2.0.0")));
        assert_eq!(next_version(v("0.4.2"), &breaking), Some(v("0.5.0")));
        assert_eq!(next_version(v("1.4.2"), &commits(&["docs: a"])), None);
        assert!("1.2".parse::<Version>().is_err());
        assert!("1.02.3".parse::<Version>().is_err());
    }

    #[test]
    fn tags_must_match_the_cargo_version() {
        assert_eq!(check_tag("v0.3.0", "0.3.0"), Ok(()));
        assert!(check_tag("0.3.0", "0.3.0").is_err());
        assert!(check_tag("v0.3.1", "0.3.0").is_err());
    }
}
