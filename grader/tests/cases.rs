//! Every lab's example submissions as data: `cases/weekNN.toml` declares, for
//! the lab `weekNN`, how each submission is made and exactly which rubric items
//! it loses. This runner (a `harness = false` target on libtest-mimic) grades
//! each case as its own test, `weekNN::case_name`, and derives the coverage
//! from the files: every check of a lab with a case file has a case that loses
//! that check alone, and a case (the reference) loses nothing.
//!
//! A case file:
//!
//! ```toml
//! # How every submission of this file is made (see `Maker`).
//! submission = "service"
//!
//! [[case]]
//! name = "no_user"              # the test is `week08::no_user`
//! mode = "reference"            # the fixture's --mode
//! image = "no-user"             # the variant: a defect of the Dockerfile
//! loses = ["image.non-root"]    # exactly these items, nothing else
//! says = "sets no USER"         # a substring of the failure's message
//! golden = "broken-no_user"     # tests/snapshots/week08__broken-no_user.snap
//! ```
//!
//! `says` and `message` (the whole message) are a string when one item is
//! lost, or a table `{ "item" = "..." }`. Each grade also asserts that the
//! container ran, that each lost item failed, that the score is the lab's
//! maximum less the lost items' points, and what the maker promises (no service
//! started for week 3, nothing built for week 5). A malformed entry is one
//! failing test whose message names the file and the case.
//!
//! Docker cases behave as every Docker test of the suite: with no engine they
//! pass with a note, except with CI=true, where they fail (`support::engine`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use grader::result::{ContainerVerdict, Report, Verdict};
use grader::spec::LabSpec;
use libtest_mimic::{Arguments, Failed, Trial};
use serde::Deserialize;
use support::early_labs::Design;
use support::week05::Edit;
use support::{Image, lost, week03, week04, week05, week06, week07};

/// Labs that have no case file, each with the reason. Every other embedded lab
/// must have one.
const WITHOUT_CASES: &[(&str, &str)] = &[];

fn main() {
    let mut args = Arguments::from_args();
    // A grade asserts that its process left no container, which counts every
    // grade of the process: under `cargo test`, one case at a time (nextest
    // runs each case in a process of its own).
    if args.test_threads.is_none() {
        args.test_threads = Some(1);
    }
    let loaded = load_all(&cases_dir());
    let mut trials = Vec::new();
    for (name, error) in loaded.errors {
        trials.push(Trial::test(name, move || Err(Failed::from(error))));
    }
    // What each lab's cases lose, for the coverage.
    let mut by_lab: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for case in loaded.cases {
        by_lab
            .entry(case.lab.clone())
            .or_default()
            .push(case.loses.clone());
        trials.push(Trial::test(
            format!("{}::{}", case.lab, case.name),
            move || run_case(&case),
        ));
    }
    let every = std::sync::Arc::new(by_lab);
    for lab in loaded.labs {
        let every = every.clone();
        trials.push(Trial::test(
            format!("{lab}::every_check_is_lost_alone_by_a_case"),
            move || coverage(&lab, &every),
        ));
    }
    trials.push(Trial::test(
        "cases::every_embedded_lab_has_a_case_file",
        || every_lab_has_a_case_file(&cases_dir()),
    ));
    trials.push(Trial::test(
        "cases::a_malformed_entry_is_one_line_naming_file_and_case",
        malformed_entries,
    ));
    libtest_mimic::run(&args, trials).exit();
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

fn lab(id: &str) -> LabSpec {
    grader::spec::embedded_lab(id)
        .expect("embedded")
        .expect("valid")
}

/// How every submission of a case file is made: the file's `submission`.
#[derive(Clone, Copy, PartialEq, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Maker {
    /// `fixture-early-labs --mode LAB:MODE` FROM scratch, with a stand-in model
    /// and a DESIGN.md (`design`: full or thin-risks). Weeks 1 and 2.
    EarlyLabs,
    /// `fixture-week03 --mode MODE` with week 3's manifest and desired state,
    /// in a git repository (`repo`: a defect of support::week03::Repo).
    Planner,
    /// `fixture-week08 --mode MODE` with a pin file and deny.toml, in a git
    /// repository (`repo`: a defect of support::week04::Repo). Week 4.
    HardenedService,
    /// A copy of week 5's reference dotfiles, with `[[case.edit]]`s of its
    /// files, in a git repository (`repo`: a defect of support::week05::Repo).
    Dotfiles,
    /// A copy of week 6's reference solution (the agebox crate and its keys),
    /// with `[[case.edit]]`s, in a git repository with a release tag (`repo`:
    /// how it is signed, support::week06::Repo).
    Keys,
    /// A copy of week 7's reference solution (the wine-config crate, its
    /// workflow and its SOPS-encrypted settings), with `[[case.edit]]`s, in a
    /// git repository (`repo`: a secret in its history, support::week07::Repo).
    Workflows,
    /// `fixture-week08 --mode MODE` FROM scratch (`image`: a defect of the
    /// Dockerfile, support::Image). Week 8.
    Service,
    /// `fixture-week09 --mode MODE` FROM scratch beside the reference's k8s/
    /// manifests with `[[case.edit]]`s (support::week09). Week 9.
    Pod,
    /// A copy of week 10's reference pipeline with `[[case.edit]]`s, in a git
    /// repository (support::week10), built with its own Dockerfile.
    Pipeline,
    /// `fixture-week11 --mode MODE` FROM scratch beside the reference's
    /// monitoring/ files and README.md with `[[case.edit]]`s
    /// (support::week11). Week 11.
    Monitored,
    /// `fixture-week12 --mode MODE` FROM scratch with the wine data and the
    /// reference's model, beside the reference's README.md with
    /// `[[case.edit]]`s (support::week12). Week 12.
    Experiments,
    /// `fixture-week13 --mode MODE` FROM scratch with a model and its pin,
    /// beside the reference's README.md with `[[case.edit]]`s
    /// (support::week13). Week 13.
    Function,
    /// `fixture-week14 --mode MODE` FROM scratch with the reference's notes
    /// (support::week14; mode `runs-as-root` leaves out the USER line).
    /// Week 14.
    Chatbot,
    /// A copy of week 15's reference project with `[[case.edit]]`s, in a git
    /// repository, built with its own Dockerfile (support::week15).
    Final,
}

/// A case's submission, as its maker and variant say.
#[derive(Debug)]
enum Make {
    EarlyLabs {
        mode: String,
        design: Design,
    },
    Planner {
        mode: String,
        repo: week03::Repo,
    },
    HardenedService {
        mode: String,
        repo: week04::Repo,
    },
    Dotfiles {
        edits: Vec<Edit>,
        repo: week05::Repo,
    },
    Keys {
        edits: Vec<Edit>,
        repo: week06::Repo,
    },
    Workflows {
        edits: Vec<Edit>,
        repo: week07::Repo,
    },
    Service {
        mode: String,
        image: Image,
    },
    Pod {
        mode: String,
        edits: Vec<Edit>,
    },
    Monitored {
        mode: String,
        edits: Vec<Edit>,
    },
    Experiments {
        mode: String,
        edits: Vec<Edit>,
    },
    Function {
        mode: String,
        edits: Vec<Edit>,
    },
    Chatbot {
        mode: String,
    },
    Pipeline {
        edits: Vec<Edit>,
    },
    Final {
        edits: Vec<Edit>,
    },
}

impl Make {
    fn submission(&self, lab: &str) -> tempfile::TempDir {
        match self {
            Make::EarlyLabs { mode, design } => {
                support::early_labs::submission(&format!("{lab}:{mode}"), *design)
            }
            Make::Planner { mode, repo } => week03::fixture_submission(mode, *repo),
            Make::HardenedService { mode, repo } => week04::fixture_submission(mode, *repo),
            Make::Dotfiles { edits, repo } => week05::repository(week05::SOLUTION, edits, *repo),
            Make::Keys { edits, repo } => week06::repository(edits, *repo),
            Make::Workflows { edits, repo } => week07::repository(week07::SOLUTION, edits, *repo),
            Make::Service { mode, image } => support::submission(mode, *image, &[]),
            Make::Pod { mode, edits } => support::week09::submission(mode, edits),
            Make::Monitored { mode, edits } => support::week11::submission(mode, edits),
            Make::Experiments { mode, edits } => support::week12::submission(mode, edits),
            Make::Function { mode, edits } => support::week13::submission(mode, edits),
            Make::Chatbot { mode } => support::week14::submission(mode),
            Make::Pipeline { edits } => {
                support::week10::repository(support::week10::SOLUTION, edits)
            }
            Make::Final { edits } => support::week10::repository(support::week10::FINAL, edits),
        }
    }

    /// What every grade of this maker's submissions shows beside its score.
    fn promises(&self, report: &Report) {
        match self {
            Make::Planner { .. } => assert_eq!(
                report.timings.start_ms, 0,
                "a lab with no service starts none"
            ),
            Make::Dotfiles { .. } => {
                // No Dockerfile, no image: nothing was built.
                assert_eq!(report.submission.context_sha256, None);
                assert_eq!(report.timings.build_ms, 0);
            }
            _ => {}
        }
    }
}

/// How a failure's message is checked.
#[derive(Debug, Clone)]
enum Expect {
    /// It contains this.
    Says(String),
    /// It is this, whole.
    Is(String),
}

/// One case, checked against its lab.
#[derive(Debug)]
struct Case {
    lab: String,
    name: String,
    make: Make,
    /// In the lab's order, as a report lists them.
    loses: Vec<String>,
    messages: Vec<(String, Expect)>,
    golden: Option<String>,
}

/// A case as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    loses: Vec<String>,
    mode: Option<String>,
    image: Option<Image>,
    repo: Option<String>,
    design: Option<Design>,
    #[serde(default)]
    edit: Vec<Edit>,
    says: Option<toml::Value>,
    message: Option<toml::Value>,
    golden: Option<String>,
}

/// A case file as written; its cases are read one by one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    submission: Maker,
    #[serde(default)]
    case: Vec<toml::Value>,
}

#[derive(Default)]
struct Loaded {
    /// The labs that have a case file.
    labs: Vec<String>,
    cases: Vec<Case>,
    /// A failing test's name and its one-line error, for each malformed entry.
    errors: Vec<(String, String)>,
}

fn load_all(dir: &Path) -> Loaded {
    let mut loaded = Loaded::default();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("read_dir").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let shown = format!("grader/tests/cases/{stem}.toml");
        let text = std::fs::read_to_string(&path).expect("read a case file");
        match load_file(&stem, &shown, &text) {
            Ok((cases, errors)) => {
                loaded.labs.push(stem);
                loaded.cases.extend(cases);
                loaded.errors.extend(errors);
            }
            Err(error) => loaded.errors.push((format!("{stem}::case_file"), error)),
        }
    }
    loaded
}

/// Folds a message onto one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A case file's valid cases, and each malformed case as a test name and a
/// one-line error.
type Entries = (Vec<Case>, Vec<(String, String)>);

/// Reads the case file of lab `lab`; `Err` when the file itself is wrong.
fn load_file(lab: &str, shown: &str, text: &str) -> Result<Entries, String> {
    let spec = match grader::spec::embedded_lab(lab) {
        Some(Ok(spec)) => spec,
        Some(Err(e)) => {
            return Err(format!(
                "{shown}: the lab does not load: {}",
                one_line(&e.to_string())
            ));
        }
        None => {
            let labs: Vec<_> = grader::spec::embedded_labs().collect();
            return Err(format!(
                "{shown}: no embedded lab `{lab}` (the labs are {})",
                labs.join(", ")
            ));
        }
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        format!("{shown}{at}: {}", one_line(e.message()))
    })?;
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, value) in raw.case.into_iter().enumerate() {
        let name = value
            .get("name")
            .and_then(|n| n.as_str())
            .map(str::to_string);
        let label = match &name {
            Some(n) => format!("case `{n}`"),
            None => format!("case #{} (no name)", i + 1),
        };
        let test = format!(
            "{lab}::{}",
            name.clone().unwrap_or(format!("case_{}", i + 1))
        );
        let result = read_case(lab, &spec, raw.submission, value).and_then(|case| {
            if seen.insert(case.name.clone()) {
                Ok(case)
            } else {
                Err("a second case of this name".to_string())
            }
        });
        match result {
            Ok(case) => cases.push(case),
            Err(e) => errors.push((test, format!("{shown}: {label}: {}", one_line(&e)))),
        }
    }
    Ok((cases, errors))
}

fn read_case(lab: &str, spec: &LabSpec, maker: Maker, value: toml::Value) -> Result<Case, String> {
    let raw: RawCase = value
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    if raw.name.is_empty()
        || !raw
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!(
            "name {:?}: use lowercase letters, digits and `_` (it is a test name)",
            raw.name
        ));
    }
    let ids: Vec<&str> = spec.checks.iter().map(|c| c.id.as_str()).collect();
    for item in &raw.loses {
        if !ids.contains(&item.as_str()) {
            return Err(format!(
                "loses {item:?}: the lab has no such check (its checks: {})",
                ids.join(", ")
            ));
        }
    }
    let loses: Vec<String> = ids
        .iter()
        .filter(|id| raw.loses.iter().any(|l| l == *id))
        .map(|id| id.to_string())
        .collect();
    if loses.len() != raw.loses.len() {
        return Err("loses names an item twice".to_string());
    }
    // Which variant fields this maker reads; any other is a mistake.
    let allowed: &[&str] = match maker {
        Maker::EarlyLabs => &["mode", "design"],
        Maker::Planner | Maker::HardenedService => &["mode", "repo"],
        Maker::Dotfiles | Maker::Keys | Maker::Workflows => &["edit", "repo"],
        Maker::Pipeline | Maker::Final => &["edit"],
        Maker::Service => &["mode", "image"],
        Maker::Pod | Maker::Monitored | Maker::Experiments | Maker::Function => &["mode", "edit"],
        Maker::Chatbot => &["mode"],
    };
    let given = [
        ("mode", raw.mode.is_some()),
        ("image", raw.image.is_some()),
        ("repo", raw.repo.is_some()),
        ("design", raw.design.is_some()),
        ("edit", !raw.edit.is_empty()),
    ];
    for (field, set) in given {
        if set && !allowed.contains(&field) {
            return Err(format!(
                "`{field}` is not read for a `{}` submission (it reads {})",
                maker_name(maker),
                allowed.join(", ")
            ));
        }
    }
    let mode = || {
        raw.mode.clone().ok_or_else(|| {
            format!(
                "no `mode`: a `{}` submission runs a fixture in a mode",
                maker_name(maker)
            )
        })
    };
    fn variant<T: for<'de> Deserialize<'de>>(
        repo: &Option<String>,
        default: T,
    ) -> Result<T, String> {
        match repo {
            None => Ok(default),
            Some(name) => T::deserialize(serde::de::value::StrDeserializer::<
                serde::de::value::Error,
            >::new(name))
            .map_err(|e| format!("repo: {e}")),
        }
    }
    let make = match maker {
        Maker::EarlyLabs => Make::EarlyLabs {
            mode: mode()?,
            design: raw.design.unwrap_or_default(),
        },
        Maker::Planner => Make::Planner {
            mode: mode()?,
            repo: variant(&raw.repo, week03::Repo::Good)?,
        },
        Maker::HardenedService => Make::HardenedService {
            mode: mode()?,
            repo: variant(&raw.repo, week04::Repo::Good)?,
        },
        Maker::Dotfiles => Make::Dotfiles {
            edits: raw.edit.clone(),
            repo: variant(&raw.repo, week05::Repo::Good)?,
        },
        Maker::Keys => Make::Keys {
            edits: raw.edit.clone(),
            repo: variant(&raw.repo, week06::Repo::Good)?,
        },
        Maker::Workflows => Make::Workflows {
            edits: raw.edit.clone(),
            repo: variant(&raw.repo, week07::Repo::Good)?,
        },
        Maker::Service => Make::Service {
            mode: mode()?,
            image: raw.image.unwrap_or(Image::Good),
        },
        Maker::Pod => Make::Pod {
            mode: mode()?,
            edits: raw.edit.clone(),
        },
        Maker::Monitored => Make::Monitored {
            mode: mode()?,
            edits: raw.edit.clone(),
        },
        Maker::Experiments => Make::Experiments {
            mode: mode()?,
            edits: raw.edit.clone(),
        },
        Maker::Function => Make::Function {
            mode: mode()?,
            edits: raw.edit.clone(),
        },
        Maker::Chatbot => Make::Chatbot { mode: mode()? },
        Maker::Pipeline => Make::Pipeline {
            edits: raw.edit.clone(),
        },
        Maker::Final => Make::Final {
            edits: raw.edit.clone(),
        },
    };
    let mut messages = Vec::new();
    for (field, value) in [("says", &raw.says), ("message", &raw.message)] {
        let Some(value) = value else { continue };
        let expect = |s: &str| match field {
            "says" => Expect::Says(s.to_string()),
            _ => Expect::Is(s.to_string()),
        };
        match value {
            toml::Value::String(s) => match &loses[..] {
                [item] => messages.push((item.clone(), expect(s))),
                _ => {
                    return Err(format!(
                        "`{field}` is a string, so the case must lose one item: make it a table {{ \"item\" = \"...\" }}"
                    ));
                }
            },
            toml::Value::Table(t) => {
                for (item, text) in t {
                    if !loses.contains(item) {
                        return Err(format!(
                            "`{field}` names {item:?}, which the case does not lose"
                        ));
                    }
                    let Some(text) = text.as_str() else {
                        return Err(format!("`{field}.{item}` is not a string"));
                    };
                    messages.push((item.clone(), expect(text)));
                }
            }
            _ => {
                return Err(format!(
                    "`{field}` is a string or a table {{ \"item\" = \"...\" }}"
                ));
            }
        }
    }
    if let Some(golden) = &raw.golden
        && (golden.is_empty()
            || !golden
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    {
        return Err(format!(
            "golden {golden:?}: use letters, digits, `_` and `-`"
        ));
    }
    Ok(Case {
        lab: lab.to_string(),
        name: raw.name,
        make,
        loses,
        messages,
        golden: raw.golden,
    })
}

fn maker_name(maker: Maker) -> &'static str {
    match maker {
        Maker::EarlyLabs => "early-labs",
        Maker::Planner => "planner",
        Maker::HardenedService => "hardened-service",
        Maker::Dotfiles => "dotfiles",
        Maker::Keys => "keys",
        Maker::Workflows => "workflows",
        Maker::Service => "service",
        Maker::Pod => "pod",
        Maker::Monitored => "monitored",
        Maker::Experiments => "experiments",
        Maker::Function => "function",
        Maker::Chatbot => "chatbot",
        Maker::Pipeline => "pipeline",
        Maker::Final => "final",
    }
}

fn run_case(case: &Case) -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::from(format!("tokio: {e}")))?;
    runtime.block_on(grade_case(case));
    Ok(())
}

async fn grade_case(case: &Case) {
    let Some(docker) = support::engine().await else {
        return;
    };
    let spec = lab(&case.lab);
    let max: u32 = spec.checks.iter().map(|c| c.points).sum();
    let dir = case.make.submission(&case.lab);
    let report = match case.make {
        // Weeks 6, 7, 10 and 15 build the solution's own Dockerfile, on the
        // local base images; as an instructor grades, hidden checks included
        // (week 15 composes week 8's).
        Make::Keys { .. } | Make::Workflows { .. } | Make::Pipeline { .. } | Make::Final { .. } => {
            support::grade_with(
                &docker,
                spec,
                dir.path(),
                grader::Audience::Instructor,
                support::real_build_args(),
            )
            .await
        }
        _ => support::grade(&docker, spec, dir.path()).await,
    };
    assert_eq!(
        report.container.verdict,
        ContainerVerdict::Ran,
        "{report:#?}"
    );
    assert_eq!(lost(&report), case.loses, "{report:#?}");
    assert_eq!(report.score.max, max, "{report:#?}");
    let lost_points: u32 = report
        .checks
        .iter()
        .filter(|c| case.loses.contains(&c.id))
        .map(|c| c.points)
        .sum();
    assert_eq!(report.score.earned, max - lost_points, "{report:#?}");
    for check in report.checks.iter().filter(|c| case.loses.contains(&c.id)) {
        assert_eq!(check.verdict, Verdict::Failed, "{check:?}");
    }
    for (item, expect) in &case.messages {
        let message = support::verdict_of(&report, item)
            .message
            .clone()
            .unwrap_or_default();
        match expect {
            Expect::Says(part) => assert!(
                message.contains(part.as_str()),
                "{item}: {message:?} does not say {part:?}"
            ),
            Expect::Is(whole) => assert_eq!(&message, whole, "{item}"),
        }
    }
    case.make.promises(&report);
    if let Some(golden) = &case.golden {
        // The goldens keep the names of the tests they came from:
        // snapshots/weekNN__GOLDEN.snap.
        let name = format!("{}__{golden}", case.lab);
        insta::with_settings!({ prepend_module_to_snapshot => false }, {
            assert_golden!(name.as_str(), &report);
        });
    }
}

/// Every check of `lab` is lost alone by some case, and some case loses nothing.
/// `every` holds what each case of each lab loses.
///
/// A check a lab composes from another (`week08.health`) is the very check
/// that lab's own case loses alone (`health`); here, one case of the
/// composing lab must lose some check of each block, proving the block is
/// wired in (a project's breaks lose every week's check of the same thing,
/// so one item alone is not always possible).
fn coverage(lab_id: &str, every: &BTreeMap<String, Vec<Vec<String>>>) -> Result<(), Failed> {
    let spec = lab(lab_id);
    let none = Vec::new();
    let cases = every.get(lab_id).unwrap_or(&none);
    let mut missing = Vec::new();
    if !cases.iter().any(Vec::is_empty) {
        missing.push("no case loses nothing (the reference)".to_string());
    }
    fn composed<'a>(spec: &'a LabSpec, id: &'a str) -> Option<(&'a str, &'a str)> {
        spec.compose.iter().find_map(|block| {
            id.strip_prefix(&format!("{}.", block.lab))
                .map(|own| (block.lab.as_str(), own))
        })
    }
    for block in &spec.compose {
        let prefix = format!("{}.", block.lab);
        if !cases
            .iter()
            .any(|c| !c.is_empty() && c.iter().all(|id| id.starts_with(&prefix)))
        {
            missing.push(format!(
                "no case loses checks of the {} block alone (add one to grader/tests/cases/{lab_id}.toml)",
                block.lab
            ));
        }
    }
    for check in &spec.checks {
        if let Some((from, own)) = composed(&spec, &check.id) {
            let theirs = every.get(from).unwrap_or(&none);
            if !theirs.iter().any(|c| c == &[own]) {
                missing.push(format!(
                    "`{}` is composed from {from}, and no case of grader/tests/cases/{from}.toml loses `{own}` alone",
                    check.id
                ));
            }
            continue;
        }
        if !cases.iter().any(|c| c == &[check.id.as_str()]) {
            missing.push(format!(
                "no case loses `{}` alone (add one to grader/tests/cases/{lab_id}.toml)",
                check.id
            ));
        }
    }
    let points: u32 = spec.checks.iter().map(|c| c.points).sum();
    if points != 100 {
        missing.push(format!("the checks are worth {points} points, not 100"));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing.join("\n").into())
    }
}

fn every_lab_has_a_case_file(dir: &Path) -> Result<(), Failed> {
    let mut problems = Vec::new();
    for id in grader::spec::embedded_labs() {
        let file = dir.join(format!("{id}.toml")).is_file();
        let allowed = WITHOUT_CASES.iter().find(|(l, _)| *l == id);
        match (file, allowed) {
            (false, None) => problems.push(format!(
                "{id} has no grader/tests/cases/{id}.toml (or name it in WITHOUT_CASES, with the reason)"
            )),
            (true, Some(_)) => problems.push(format!(
                "{id} has a case file: remove it from WITHOUT_CASES"
            )),
            _ => {}
        }
    }
    for (id, _) in WITHOUT_CASES {
        if !grader::spec::embedded_labs().any(|l| l == *id) {
            problems.push(format!("WITHOUT_CASES names {id}, which is not a lab"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

/// The loader's errors, on entries written wrong on purpose: one line each,
/// naming the file and the case.
fn malformed_entries() -> Result<(), Failed> {
    let shown = "grader/tests/cases/week08.toml";
    let load = |text: &str| load_file("week08", shown, text);
    let one_error = |text: &str, test: &str, says: &str| -> Result<(), String> {
        let (cases, errors) = load(text)?;
        match &errors[..] {
            [(name, error)] if cases.is_empty() => {
                if name != test
                    || !error.starts_with(&format!("{shown}: case "))
                    || !error.contains(says)
                    || error.contains('\n')
                {
                    return Err(format!(
                        "{name}: {error:?}, expected {test} saying {says:?}"
                    ));
                }
                Ok(())
            }
            _ => Err(format!("{text:?}: expected one error, got {errors:?}")),
        }
    };
    let head = "submission = \"service\"\n[[case]]\n";
    let checks: [(&str, &str, &str); 9] = [
        (
            "name = \"x\"\nmode = \"reference\"\nloses = []\nimgae = \"no-user\"\n",
            "week08::x",
            "unknown field `imgae`",
        ),
        (
            "name = \"x\"\nmode = \"reference\"\nloses = []\nimage = \"no-usr\"\n",
            "week08::x",
            "unknown variant `no-usr`",
        ),
        (
            "name = \"x\"\nmode = \"reference\"\nloses = [\"image.nonroot\"]\n",
            "week08::x",
            "no such check",
        ),
        ("name = \"x\"\nloses = []\n", "week08::x", "no `mode`"),
        (
            "name = \"x\"\nmode = \"reference\"\nrepo = \"wrong-tag\"\nloses = []\n",
            "week08::x",
            "`repo` is not read for a `service` submission",
        ),
        (
            "name = \"x\"\nmode = \"a\"\nloses = [\"health\", \"version\"]\nsays = \"y\"\n",
            "week08::x",
            "must lose one item",
        ),
        (
            "name = \"x\"\nmode = \"a\"\nloses = [\"health\"]\nsays = { version = \"y\" }\n",
            "week08::x",
            "does not lose",
        ),
        (
            "name = \"No User\"\nmode = \"a\"\nloses = []\n",
            "week08::No User",
            "lowercase",
        ),
        (
            "mode = \"a\"\nloses = []\n",
            "week08::case_1",
            "case #1 (no name): missing field `name`",
        ),
    ];
    for (case, test, says) in checks {
        one_error(&format!("{head}{case}"), test, says)?;
    }
    let twice = format!(
        "{head}name = \"x\"\nmode = \"a\"\nloses = []\n[[case]]\nname = \"x\"\nmode = \"b\"\nloses = []\n"
    );
    let (_, errors) = load(&twice)?;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].1.contains("a second case of this name"),
        "{errors:?}"
    );
    // The file itself: one line, with where.
    for (text, says) in [
        ("submission = \"servce\"\n", "unknown variant `servce`"),
        ("submission = \"service\"\n[[case]\n", "(line 2)"),
        ("[[case]]\nname = \"x\"\n", "missing field `submission`"),
    ] {
        match load(text) {
            Err(e) if e.starts_with(shown) && e.contains(says) && !e.contains('\n') => {}
            other => {
                return Err(
                    format!("{text:?}: {other:?}, expected an error saying {says:?}").into(),
                );
            }
        }
    }
    match load_file("week99", "grader/tests/cases/week99.toml", head) {
        Err(e) if e.contains("no embedded lab `week99`") => Ok(()),
        other => Err(format!("week99: {other:?}").into()),
    }
}
