//! Week 7: a policy checker for GitHub Actions workflows.
//!
//! [`check_workflow`] parses a workflow file and reports what the course's
//! policy forbids: actions referenced by a movable tag or branch instead of a
//! full commit SHA, jobs that run with the default token permissions because
//! nothing declares `permissions`, and permissions broader than a workflow
//! needs (`write-all`, or write access granted to every job at the top).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

// ANCHOR: model
/// The parts of a workflow file the policy looks at. Everything else
/// (`on`, `env`, `run` steps, ...) is ignored, so any valid workflow parses.
#[derive(Debug, Deserialize)]
pub struct Workflow {
    pub permissions: Option<Permissions>,
    #[serde(default)]
    pub jobs: BTreeMap<String, Job>,
}

#[derive(Debug, Deserialize)]
pub struct Job {
    pub permissions: Option<Permissions>,
    /// A job that calls a reusable workflow has `uses` instead of steps.
    pub uses: Option<String>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
pub struct Step {
    pub name: Option<String>,
    pub uses: Option<String>,
}

/// `permissions:` is either a shorthand string or a map of scopes.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Permissions {
    /// `read-all` or `write-all`.
    Shorthand(String),
    /// `{contents: read, pull-requests: write}`; `{}` means no access at all.
    Scopes(BTreeMap<String, String>),
}
// ANCHOR_END: model

/// One breach of the policy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Finding {
    /// `uses:` names a tag or branch, which its owner can move.
    UnpinnedAction { job: String, uses: String },
    /// Neither the job nor the workflow declares `permissions`.
    MissingPermissions { job: String },
    /// `write-all`, or write access granted at the workflow level.
    OverBroadPermissions { place: String, detail: String },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnpinnedAction { job, uses } => write!(
                f,
                "job `{job}`: `{uses}` is not pinned to a full commit SHA"
            ),
            Self::MissingPermissions { job } => write!(
                f,
                "job `{job}`: no `permissions` (here or at the top), so it gets the default token"
            ),
            Self::OverBroadPermissions { place, detail } => write!(f, "{place}: {detail}"),
        }
    }
}

// ANCHOR: pinned
/// Whether a `uses:` value is immutable: a local action (`./...`), a Docker
/// image by digest, or `owner/repo[/path]@<40 hex digits>`.
pub fn is_pinned(uses: &str) -> bool {
    if uses.starts_with("./") {
        return true; // Same repository, same commit as the workflow itself.
    }
    if let Some(image) = uses.strip_prefix("docker://") {
        return image.contains("@sha256:");
    }
    match uses.rsplit_once('@') {
        Some((_, reference)) => {
            reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}
// ANCHOR_END: pinned

// ANCHOR: check
// ANCHOR: check_jobs
/// Parses a workflow and returns every finding, sorted; empty means it
/// passes the policy.
pub fn check_workflow(yaml: &str) -> Result<Vec<Finding>, serde_yaml_ng::Error> {
    let workflow: Workflow = serde_yaml_ng::from_str(yaml)?;
    let mut findings = Vec::new();

    if let Some(top) = &workflow.permissions {
        findings.extend(over_broad(top, "workflow", true));
    }
    for (name, job) in &workflow.jobs {
        let steps = job.steps.iter().filter_map(|step| step.uses.as_deref());
        for uses in job.uses.as_deref().into_iter().chain(steps) {
            if !is_pinned(uses) {
                findings.push(Finding::UnpinnedAction {
                    job: name.clone(),
                    uses: uses.to_owned(),
                });
            }
        }
        match (&job.permissions, &workflow.permissions) {
            (Some(own), _) => findings.extend(over_broad(own, &format!("job `{name}`"), false)),
            (None, Some(_)) => {} // Inherits the top-level block, checked above.
            (None, None) => findings.push(Finding::MissingPermissions { job: name.clone() }),
        }
    }
    findings.sort();
    Ok(findings)
}
// ANCHOR_END: check_jobs

// ANCHOR: check_permissions
/// `write-all` is over-broad anywhere. At the workflow level, any write scope
/// is: it reaches every job, though usually only one job needs it.
fn over_broad(permissions: &Permissions, place: &str, top_level: bool) -> Vec<Finding> {
    let finding = |detail: String| Finding::OverBroadPermissions {
        place: place.to_owned(),
        detail,
    };
    match permissions {
        Permissions::Shorthand(all) if all == "write-all" => {
            vec![finding(
                "`write-all` grants every scope; name the scopes needed".to_owned(),
            )]
        }
        Permissions::Shorthand(_) => Vec::new(),
        Permissions::Scopes(scopes) if top_level => scopes
            .iter()
            .filter(|(_, access)| access.as_str() == "write")
            .map(|(scope, _)| {
                finding(format!(
                    "`{scope}: write` applies to every job; grant it in the job that needs it"
                ))
            })
            .collect(),
        Permissions::Scopes(_) => Vec::new(),
    }
}
// ANCHOR_END: check_permissions
// ANCHOR_END: check

#[cfg(test)]
mod tests {
    use super::*;

    // ANCHOR: good
    const GOOD: &str = r#"
name: CI
on:
  push:
  pull_request:
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          persist-credentials: false
      - uses: Swatinem/rust-cache@9d47c6ad4b02e050fd481d890b2ea34778fd09d6 # v2.7.8
      - run: cargo test --locked
  release:
    needs: test
    permissions:
      contents: write
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/publish
"#;
    // ANCHOR_END: good

    // ANCHOR: bad
    const BAD: &str = r#"
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: dtolnay/rust-toolchain@stable
      - run: cargo test
  deploy:
    permissions: write-all
    runs-on: ubuntu-latest
    steps:
      - uses: docker/login-action@9780b0c442fbb1117ed29e0efdff1e18412f7567 # v3.3.0
"#;
    // ANCHOR_END: bad

    // ANCHOR: tests
    #[test]
    fn a_hardened_workflow_passes() {
        assert_eq!(check_workflow(GOOD).expect("valid YAML"), []);
    }

    #[test]
    fn a_careless_workflow_is_reported() {
        let findings = check_workflow(BAD).expect("valid YAML");
        let messages: Vec<String> = findings.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "job `test`: `actions/checkout@v4` is not pinned to a full commit SHA",
                "job `test`: `dtolnay/rust-toolchain@stable` is not pinned to a full commit SHA",
                "job `test`: no `permissions` (here or at the top), so it gets the default token",
                "job `deploy`: `write-all` grants every scope; name the scopes needed",
            ]
        );
    }
    // ANCHOR_END: tests

    #[test]
    fn top_level_write_is_over_broad() {
        let yaml = "permissions:\n  contents: read\n  packages: write\njobs: {}\n";
        assert_eq!(
            check_workflow(yaml).expect("valid YAML"),
            [Finding::OverBroadPermissions {
                place: "workflow".to_owned(),
                detail: "`packages: write` applies to every job; grant it in the job that needs it"
                    .to_owned(),
            }]
        );
        // An empty map is the strictest setting there is.
        let none = "permissions: {}\njobs:\n  a:\n    steps: []\n";
        assert_eq!(check_workflow(none).expect("valid YAML"), []);
    }

    #[test]
    fn pinning_rules() {
        for pinned in [
            "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683",
            "github/codeql-action/init@4dd16135b69a43b6c8efb853346f8437d92d3c93",
            "./.github/actions/setup",
            "docker://alpine@sha256:0a4eaa0eecf5f8c050e5bba433f58c052be7587ee8af3e8b3910ef9ab5fbe9f5",
        ] {
            assert!(is_pinned(pinned), "{pinned}");
        }
        for unpinned in [
            "actions/checkout@v4",
            "actions/checkout@main",
            "actions/checkout",
            "actions/checkout@11bd719",
            "docker://alpine:3.20",
        ] {
            assert!(!is_pinned(unpinned), "{unpinned}");
        }
    }

    #[test]
    fn reusable_workflows_must_be_pinned_too() {
        let yaml = "permissions: read-all\njobs:\n  call:\n    uses: org/shared/.github/workflows/ci.yml@main\n";
        assert_eq!(
            check_workflow(yaml).expect("valid YAML"),
            [Finding::UnpinnedAction {
                job: "call".to_owned(),
                uses: "org/shared/.github/workflows/ci.yml@main".to_owned(),
            }]
        );
    }

    #[test]
    fn invalid_yaml_is_an_error() {
        assert!(check_workflow("jobs: [unclosed").is_err());
        assert!(check_workflow("jobs:\n  a:\n    steps: 3\n").is_err());
    }
}
