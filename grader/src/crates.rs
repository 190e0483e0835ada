//! The crates a Rust submission's build needs, read from its `Cargo.lock` and
//! manifests before the build, so that a dependency the offline build cannot
//! have is one clear line instead of cargo's offline error deep in a log.
//!
//! Only crates.io crates are allowed: a git dependency, another registry, or
//! a path dependency outside the submission would need the network or files
//! the build never sees. The crates.io crates are compared with the list the
//! course's builder image carries (`cook.sh` writes it), when it carries one;
//! those it lacks are fetched before the build ([`crate::docker::fetch`]).

use crate::context::BuildContext;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

/// Where the course's builder image lists the `.crate` files it holds.
pub const BUILDER_CRATES: &str = "/usr/local/share/mlops-course/crates.txt";

/// crates.io's index, as a lockfile names it (git and sparse protocols).
const CRATES_IO: [&str; 2] = [
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
];

/// A crates.io crate the lockfile pins.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Locked {
    pub name: String,
    pub version: String,
    /// The SHA-256 of the `.crate` file, which cargo checks what it downloads against.
    pub checksum: Option<String>,
}

impl Locked {
    /// The file cargo keeps it in: `NAME-VERSION.crate`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.crate", self.name, self.version)
    }
}

#[derive(Deserialize)]
struct Lockfile {
    #[serde(default)]
    package: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
}

/// The crates.io crates of the submission's `Cargo.lock`, or `None` without
/// one; `Err` is the one line that refuses the submission.
pub fn locked(ctx: &BuildContext) -> Result<Option<Vec<Locked>>, String> {
    for manifest in ctx.paths_named("Cargo.toml") {
        let text = ctx.file(&manifest).unwrap_or_default();
        outside_paths(&manifest, &String::from_utf8_lossy(&text))?;
    }
    let Some(lock) = ctx.file("Cargo.lock") else {
        return Ok(None);
    };
    let lock: Lockfile = toml::from_str(&String::from_utf8_lossy(&lock)).map_err(|e| {
        format!(
            "Cargo.lock cannot be read: {}",
            crate::checks::clip(e.message(), 120)
        )
    })?;
    let mut crates = Vec::new();
    for p in lock.package {
        let Some(source) = p.source else {
            continue; // a member of the submission's own workspace
        };
        let what = if source.starts_with("git+") {
            "git"
        } else if CRATES_IO.contains(&source.as_str()) {
            crates.push(Locked {
                name: p.name,
                version: p.version,
                checksum: p.checksum,
            });
            continue;
        } else {
            "another registry than crates.io"
        };
        return Err(format!(
            "Cargo.lock: {} {} comes from {what} ({}); the build has no network and gets crates from crates.io only, so depend on a published version",
            crate::checks::clip(&p.name, 60),
            crate::checks::clip(&p.version, 30),
            crate::checks::clip(&source, 80)
        ));
    }
    crates.sort();
    crates.dedup();
    Ok(Some(crates))
}

/// Refuses, in a manifest, a dependency the build cannot have and the fetch
/// must not follow: a `path` that leaves the submission's folder (the build
/// context holds nothing outside it), a `git` source or another registry
/// (cargo would reach them to resolve even an unused `[patch]`).
fn outside_paths(manifest: &str, text: &str) -> Result<(), String> {
    let Ok(doc) = text.parse::<toml::Table>() else {
        return Ok(()); // cargo says what is wrong with it, in the build's log
    };
    let dir = Path::new(manifest).parent().unwrap_or(Path::new(""));
    let mut found = Vec::new();
    sources_in(&toml::Value::Table(doc), &mut found);
    for (key, value) in found {
        let value = crate::checks::clip(&value, 80);
        match key {
            "path" if !inside(dir, &value) => {
                return Err(format!(
                    "{manifest}: the path dependency \"{value}\" is outside the submission; the build sees only the submission's files, so move the crate into it"
                ));
            }
            "path" => {}
            "git" => {
                return Err(format!(
                    "{manifest}: the git dependency \"{value}\" cannot be fetched; the grader fetches crates from crates.io only, so depend on a published version"
                ));
            }
            _ => {
                return Err(format!(
                    "{manifest}: a dependency from another registry ({key} = \"{value}\"); the grader fetches crates from crates.io only"
                ));
            }
        }
    }
    Ok(())
}

/// The keys of a dependency that name where it comes from.
const SOURCE_KEYS: [&str; 4] = ["path", "git", "registry", "registry-index"];

/// Every `path`, `git`, `registry` or `registry-index` string inside a
/// dependency or patch table, with its key.
fn sources_in(value: &toml::Value, found: &mut Vec<(&'static str, String)>) {
    let toml::Value::Table(table) = value else {
        return;
    };
    for (key, v) in table {
        let deps = key.ends_with("dependencies") || key == "patch" || key == "replace";
        match v {
            toml::Value::Table(_) if deps => collect_sources(v, found),
            toml::Value::Table(_) => sources_in(v, found),
            _ => {}
        }
    }
}

/// In a dependency table (and, for `[patch.X]`, a level deeper), each
/// dependency's source keys.
fn collect_sources(value: &toml::Value, found: &mut Vec<(&'static str, String)>) {
    let toml::Value::Table(table) = value else {
        return;
    };
    for v in table.values() {
        let toml::Value::Table(dep) = v else {
            continue;
        };
        let mut named = false;
        for key in SOURCE_KEYS {
            if let Some(toml::Value::String(s)) = dep.get(key) {
                found.push((key, s.clone()));
                named = true;
            }
        }
        if !named {
            collect_sources(v, found);
        }
    }
}

/// Whether `path`, relative to the folder `dir` of the context, stays inside it.
fn inside(dir: &Path, path: &str) -> bool {
    let mut at = PathBuf::new();
    for c in dir.join(path).components() {
        match c {
            Component::Normal(part) => at.push(part),
            Component::CurDir => {}
            Component::ParentDir if at.pop() => {}
            _ => return false, // above the root, or absolute
        }
    }
    true
}

/// The crates the builder image does not hold, given its list of `.crate`
/// file names (one per line).
pub fn missing<'a>(crates: &'a [Locked], builder_list: &str) -> Vec<&'a Locked> {
    let held: BTreeSet<&str> = builder_list.lines().map(str::trim).collect();
    crates
        .iter()
        .filter(|c| !held.contains(c.file_name().as_str()))
        .collect()
}

/// The one line for crates the offline build cannot have.
pub fn missing_message(missing: &[&Locked]) -> String {
    let names: Vec<String> = missing
        .iter()
        .take(5)
        .map(|c| format!("{} {}", c.name, c.version))
        .collect();
    let more = match missing.len() {
        n if n > 5 => format!(" and {} more", n - 5),
        _ => String::new(),
    };
    format!(
        "Cargo.lock needs {} crate{} the course's builder image does not hold ({}{more}), and the Dockerfile names its builder image without a build argument, so the grader cannot hand it the crates it fetches: use `FROM ${{BUILDER_IMAGE}}` as the starter does, or only the crates and versions the starter's Cargo.lock pins",
        missing.len(),
        if missing.len() == 1 { "" } else { "s" },
        crate::checks::clip(&names.join(", "), 200)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(extra: &str) -> String {
        format!(
            "version = 4\n\n[[package]]\nname = \"lab\"\nversion = \"0.1.0\"\n\n\
             [[package]]\nname = \"serde\"\nversion = \"1.0.228\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\n{extra}"
        )
    }

    fn ctx(files: &[(&str, &str)]) -> BuildContext {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").expect("Dockerfile");
        for (path, text) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        crate::context::pack(dir.path(), 1).expect("pack")
    }

    #[test]
    fn crates_io_crates_are_listed_and_members_skipped() {
        let c = ctx(&[
            ("Cargo.toml", "[package]\nname = \"lab\"\n"),
            ("Cargo.lock", &lock("")),
        ]);
        let crates = locked(&c).expect("allowed").expect("a lockfile");
        assert_eq!(
            crates,
            [Locked {
                name: "serde".into(),
                version: "1.0.228".into(),
                checksum: None,
            }]
        );
        assert_eq!(crates[0].file_name(), "serde-1.0.228.crate");
        assert_eq!(locked(&ctx(&[("main.py", "")])), Ok(None));
    }

    #[test]
    fn git_and_other_registries_are_refused_in_one_line() {
        let git = lock(
            "\n[[package]]\nname = \"evil\"\nversion = \"0.1.0\"\nsource = \"git+https://example.invalid/evil#abc\"\n",
        );
        let err = locked(&ctx(&[("Cargo.lock", &git)])).expect_err("git");
        assert!(
            err.starts_with(
                "Cargo.lock: evil 0.1.0 comes from git (git+https://example.invalid/evil#abc)"
            ),
            "{err}"
        );
        let other = lock(
            "\n[[package]]\nname = \"x\"\nversion = \"1.0.0\"\nsource = \"sparse+https://registry.invalid/\"\n",
        );
        let err = locked(&ctx(&[("Cargo.lock", &other)])).expect_err("registry");
        assert!(
            err.contains("comes from another registry than crates.io"),
            "{err}"
        );
        assert!(!err.contains('\n'));
        let broken = locked(&ctx(&[("Cargo.lock", "[[package]]\nname = 3\n")])).expect_err("bad");
        assert!(
            broken.starts_with("Cargo.lock cannot be read: "),
            "{broken}"
        );
    }

    #[test]
    fn a_path_dependency_outside_the_submission_is_refused() {
        let manifest = |dep: &str| format!("[package]\nname = \"lab\"\n\n[dependencies]\n{dep}\n");
        let out = ctx(&[("Cargo.toml", &manifest("shared = { path = \"../shared\" }"))]);
        let err = locked(&out).expect_err("outside");
        assert!(
            err.starts_with("Cargo.toml: the path dependency \"../shared\" is outside"),
            "{err}"
        );
        let abs = ctx(&[("Cargo.toml", &manifest("x = { path = \"/etc\" }"))]);
        assert!(locked(&abs).is_err());
        // A member of the submission's own workspace is fine, from a subfolder too.
        let member = ctx(&[
            ("Cargo.toml", &manifest("core = { path = \"crates/core\" }")),
            (
                "crates/core/Cargo.toml",
                "[package]\nname = \"core\"\n[dev-dependencies]\nlab = { path = \"../..\" }\n",
            ),
        ]);
        assert_eq!(locked(&member), Ok(None));
        let escape = ctx(&[(
            "crates/core/Cargo.toml",
            "[target.'cfg(unix)'.dependencies]\nx = { path = \"../../..\" }\n",
        )]);
        assert!(locked(&escape).is_err());
        let patch = ctx(&[(
            "Cargo.toml",
            "[patch.crates-io]\nserde = { path = \"../serde\" }\n",
        )]);
        assert!(locked(&patch).is_err());
    }

    #[test]
    fn a_git_source_or_another_registry_in_a_manifest_is_refused() {
        // Unused by the lock, a git patch would still be fetched to resolve it.
        let patch = ctx(&[(
            "Cargo.toml",
            "[package]\nname = \"lab\"\n\n[patch.crates-io]\nserde = { git = \"http://172.17.0.1:9/x\" }\n",
        )]);
        assert_eq!(
            locked(&patch),
            Err("Cargo.toml: the git dependency \"http://172.17.0.1:9/x\" cannot be fetched; the grader fetches crates from crates.io only, so depend on a published version".into())
        );
        let other = ctx(&[(
            "Cargo.toml",
            "[dependencies]\nx = { version = \"1\", registry-index = \"sparse+http://10.0.0.1/\" }\n",
        )]);
        assert!(locked(&other).is_err_and(|e| e.contains("another registry")));
        let plain = ctx(&[(
            "Cargo.toml",
            "[dependencies]\nx = { version = \"1\", features = [\"y\"] }\n",
        )]);
        assert_eq!(locked(&plain), Ok(None));
    }

    #[test]
    fn crates_the_builder_lacks_are_named() {
        let crates = [
            Locked {
                name: "serde".into(),
                version: "1.0.228".into(),
                checksum: None,
            },
            Locked {
                name: "rand".into(),
                version: "0.9.1".into(),
                checksum: None,
            },
        ];
        let held = "serde-1.0.228.crate\nserde_json-1.0.1.crate\n";
        let lacking = missing(&crates, held);
        assert_eq!(lacking, [&crates[1]]);
        assert_eq!(
            missing_message(&lacking),
            "Cargo.lock needs 1 crate the course's builder image does not hold (rand 0.9.1), and the Dockerfile names its builder image without a build argument, so the grader cannot hand it the crates it fetches: use `FROM ${BUILDER_IMAGE}` as the starter does, or only the crates and versions the starter's Cargo.lock pins"
        );
    }
}
