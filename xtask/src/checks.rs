//! The static checks and the book, run by `cargo xtask test` around the tests.

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

use anyhow::{Context, Result, bail};
use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};
use regex::Regex;

use crate::step::step;
use crate::{book_diagrams, cmd, translation, workspace};

/// `cargo fmt --check` and `cargo clippy -D warnings` over the workspace, then
/// over each lab's starter, which lives outside the workspace (a student's
/// repository is a crate of its own) and is otherwise only built when a test
/// grades it.
pub fn lint() -> Result<()> {
    workspace_lint()?;
    // One target folder for every starter: they share most of their crates.
    let target = workspace::root().join("target").join("labs");
    for lab in workspace::labs()? {
        let manifest = lab.join("Cargo.toml");
        let name = lab
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        step(&format!("the {name} starter: fmt and clippy"), || {
            cmd::run(
                workspace::cargo()
                    .args(["fmt", "--check", "--manifest-path"])
                    .arg(&manifest),
            )?;
            // --locked: the Cargo.lock beside the starter is what a student gets.
            cmd::run(
                workspace::cargo()
                    .args(["clippy", "--locked", "--all-targets", "--manifest-path"])
                    .arg(&manifest)
                    .arg("--target-dir")
                    .arg(&target)
                    .args(["--", "-D", "warnings"]),
            )
        })?;
    }
    Ok(())
}

fn workspace_lint() -> Result<()> {
    step("cargo fmt --all -- --check", || {
        cmd::run(workspace::cargo().args(["fmt", "--all", "--", "--check"]))
    })?;
    step(
        "cargo clippy --workspace --all-targets -- -D warnings",
        || {
            cmd::run(workspace::cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))
        },
    )
}

/// `mdbook build` and `mdbook test`, then the book's internal links. mdBook
/// reports a missing include as an ERROR line but still exits 0, so any ERROR or
/// WARN line fails the step; it does not look at links at all.
pub fn book(build_only: bool) -> Result<()> {
    let build = workspace::root().join("book").join("build");
    let subs: &[&str] = if build_only {
        &["build"]
    } else {
        &["build", "test"]
    };
    for sub in subs {
        step(&format!("mdbook {sub}"), || {
            let mut command = std::process::Command::new("mdbook");
            command.arg(sub).current_dir(workspace::root());
            mdbook_clean(&mut command, sub)
        })?;
    }
    if !build_only {
        step(
            "translations in step with the English book",
            translation::check,
        )?;
    }
    // After the English build, which empties book/build first.
    for language in translation::LANGUAGES {
        for sub in subs {
            step(&format!("mdbook {sub}, {} edition", language.code), || {
                mdbook_clean(&mut translation::mdbook(sub, language, &build)?, sub)
            })?;
        }
    }
    if build_only {
        return Ok(());
    }
    step(
        "translated pages: structure, anchors, language switch, font",
        || translation::check_pages(&build),
    )?;
    step("book diagrams in headless Chromium", || {
        let checked = book_diagrams::check(&build)?;
        eprintln!("    {checked} diagrams drawn, none too small or broken");
        Ok(())
    })?;
    step("book links", || {
        let root = workspace::root();
        let problems = link_problems(&root.join("book").join("src"), &root)?;
        for problem in &problems {
            eprintln!("{problem}");
        }
        match problems.first() {
            Some(first) => bail!("{} broken link(s) in the book: {first}", problems.len()),
            None => Ok(()),
        }
    })
}

/// Runs an mdbook command; a failure, or any ERROR or WARN line, is an error.
fn mdbook_clean(command: &mut std::process::Command, sub: &str) -> Result<()> {
    let out = cmd::output_raw(command)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let bad: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("WARN"))
        .collect();
    if !out.status.success() || !bad.is_empty() {
        eprint!("{stderr}");
        bail!(
            "`mdbook {sub}` reported problems: {}",
            bad.first().copied().unwrap_or("see above")
        );
    }
    Ok(())
}

/// A reference from a book source file to another file.
#[derive(Debug, PartialEq, Eq)]
enum Link {
    /// `[text](target)` or `![alt](target)`: the target as written.
    Markdown(String),
    /// `{{#include path}}` (also `rustdoc_include`, `playground`): `path`, maybe
    /// followed by `:anchor` or `:from:to`.
    Include(String),
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Link::Markdown(target) => write!(f, "link ({target})"),
            Link::Include(target) => write!(f, "{{{{#include {target}}}}}"),
        }
    }
}

/// mdBook's own pattern: an escaped `\{{#...}}`, or a directive and its arguments.
static DIRECTIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\\\{\{#[^}]*\}\}|\{\{\s*#(?:include|rustdoc_include|playground)\s+([^}]+)\}\}")
        .expect("a valid regex")
});
/// `// ANCHOR: name`, as mdBook's include finds it.
static ANCHOR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"ANCHOR:\s*([\w_-]+)").expect("a valid regex"));
/// An `id` attribute in raw HTML (`<a id="x"></a>`).
static HTML_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\bid\s*=\s*"([^"]+)""#).expect("a valid regex"));

/// A Markdown parser with the options mdBook 0.5 uses by default.
fn parser(text: &str) -> Parser<'_> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_SMART_PUNCTUATION
        | Options::ENABLE_DEFINITION_LIST
        | Options::ENABLE_GFM;
    Parser::new_ext(text, options)
}

/// The Markdown links (not those in code) and the include directives of a file.
fn links_in(text: &str) -> Vec<Link> {
    let mut links: Vec<Link> = parser(text)
        .filter_map(|event| match event {
            Event::Start(
                Tag::Link {
                    link_type,
                    dest_url,
                    ..
                }
                | Tag::Image {
                    link_type,
                    dest_url,
                    ..
                },
            ) if link_type != LinkType::Email => Some(Link::Markdown(dest_url.into_string())),
            _ => None,
        })
        .collect();
    links.extend(DIRECTIVE.captures_iter(text).filter_map(|c| {
        let args = c.get(1)?.as_str();
        Some(Link::Include(args.split_whitespace().next()?.to_string()))
    }));
    links
}

/// The ids mdBook gives a page's headings and definition-list terms, plus
/// explicit `{#id}`s and ids written in raw HTML.
fn anchors_in(text: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    // Generated ids only: an explicit id takes no part in the numbering.
    let mut generated = HashSet::new();
    let mut reading: Option<String> = None;
    for event in parser(text) {
        match event {
            Event::Start(Tag::Heading { id: Some(id), .. }) => {
                ids.insert(id.into_string());
            }
            Event::Start(Tag::Heading { .. } | Tag::DefinitionListTitle) => {
                reading = Some(String::new());
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(words) = reading.as_mut() {
                    words.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_) | TagEnd::DefinitionListTitle) => {
                if let Some(words) = reading.take() {
                    let id = id_from_content(&words);
                    let mut unique = id.clone();
                    let mut n = 0;
                    while !generated.insert(unique.clone()) {
                        n += 1;
                        unique = format!("{id}-{n}");
                    }
                    ids.insert(unique);
                }
            }
            Event::Html(html) | Event::InlineHtml(html) => {
                ids.extend(HTML_ID.captures_iter(&html).map(|c| c[1].to_string()));
            }
            _ => {}
        }
    }
    ids
}

/// mdBook's heading id: lowercase, whitespace to `-`, punctuation dropped.
fn id_from_content(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c),
            c if c.is_whitespace() => Some('-'),
            _ => None,
        })
        .collect()
}

/// One line per broken link in the `.md` files under `src`, paths shown from `root`.
fn link_problems(src: &Path, root: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    markdown_files(src, &mut files)?;
    files.sort();
    let shown = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let mut problems = Vec::new();
    for file in &files {
        let text =
            fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        for link in links_in(&text) {
            if let Some(problem) = link_problem(file, &link, src, &shown) {
                problems.push(format!("{}: {link}: {problem}", shown(file)));
            }
        }
    }
    Ok(problems)
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            markdown_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
    Ok(())
}

/// What is wrong with one link of `file`, if anything.
fn link_problem(
    file: &Path,
    link: &Link,
    src: &Path,
    shown: &dyn Fn(&Path) -> String,
) -> Option<String> {
    let dir = file.parent().unwrap_or(src);
    match link {
        Link::Include(spec) => {
            let (path, part) = match spec.split_once(':') {
                Some((path, part)) => (path, Some(part)),
                None => (spec.as_str(), None),
            };
            let target = normalize(&dir.join(path));
            let Ok(text) = fs::read_to_string(&target) else {
                return Some(format!("no such file {}", shown(&target)));
            };
            // A named anchor must be marked in the file; line ranges are not checked.
            let name = part.filter(|p| p.starts_with(|c: char| c.is_alphabetic() || c == '_'))?;
            let marked = ANCHOR.captures_iter(&text).any(|c| &c[1] == name);
            (!marked).then(|| format!("no `ANCHOR: {name}` in {}", shown(&target)))
        }
        Link::Markdown(target) => {
            if ["http://", "https://", "mailto:"]
                .iter()
                .any(|scheme| target.starts_with(scheme))
            {
                return None;
            }
            if target.is_empty() {
                // An empty link in SUMMARY.md is a draft chapter; anywhere else, a slip.
                return (file.file_name() != Some("SUMMARY.md".as_ref()))
                    .then(|| "empty target".to_string());
            }
            let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
            if path.starts_with('/') {
                return Some("an absolute path; write it relative to this file".into());
            }
            let resolved = if path.is_empty() {
                file.to_path_buf()
            } else {
                normalize(&dir.join(path))
            };
            if !resolved.starts_with(src) {
                return Some(format!(
                    "{} is outside {}, so the built book does not have it; link to the repository instead",
                    shown(&resolved),
                    shown(src)
                ));
            }
            if !resolved.is_file() {
                return Some(format!("no such file {}", shown(&resolved)));
            }
            if fragment.is_empty() || resolved.extension().is_none_or(|e| e != "md") {
                return None;
            }
            let text = fs::read_to_string(&resolved).ok()?;
            (!anchors_in(&text).contains(fragment))
                .then(|| format!("no heading with id `{fragment}` in {}", shown(&resolved)))
        }
    }
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_links_and_includes_but_nothing_in_code() {
        let text = r#"# Title

See [setup](../setup.md#the-grader), ![a diagram](img/d.png) and [the glossary][g].
Not a link: `[x](inline-code.md)`. <https://example.org> <someone@example.org>

[g]: glossary.md

```rust,ignore
{{#include ../../examples/src/week08.rs:serve}}
let f = fs[0](1);
```

{{#playground ../listing.rs editable}}
\{{#include escaped.md}}
"#;
        let md = |s: &str| Link::Markdown(s.into());
        let inc = |s: &str| Link::Include(s.into());
        assert_eq!(
            links_in(text),
            [
                md("../setup.md#the-grader"),
                md("img/d.png"),
                md("glossary.md"),
                md("https://example.org"),
                inc("../../examples/src/week08.rs:serve"),
                inc("../listing.rs"),
            ]
        );
    }

    #[test]
    fn heading_ids_are_mdbooks() {
        let text = "# Week 8: Containers\n\n## `grader grade` and the `--json` report\n\n\
                    ## Setup\n\n## Setup\n\n## Don't panic\n\n## Custom {#my-id}\n\n\
                    Hidden check\n: A check run only for instructors.\n\n<a id=\"raw\"></a>\n";
        let ids = anchors_in(text);
        for id in [
            "week-8-containers",
            "grader-grade-and-the---json-report",
            "setup",
            "setup-1",
            "dont-panic",
            "my-id",
            "hidden-check",
            "raw",
        ] {
            assert!(ids.contains(id), "{id} not in {ids:?}");
        }
        assert_eq!(ids.len(), 8, "{ids:?}");
    }

    #[test]
    fn reports_each_broken_link_once_with_its_file() {
        let root = tempfile::tempdir().expect("tempdir");
        let src = root.path().join("src");
        fs::create_dir_all(src.join("sub")).expect("mkdir");
        fs::write(src.join("sub/b.md"), "# B title\n").expect("write");
        fs::write(src.join("sub/pic.png"), "").expect("write");
        fs::write(
            root.path().join("code.rs"),
            "// ANCHOR: here\nfn f() {}\n// ANCHOR_END: here\n",
        )
        .expect("write");
        let chapter = "# A\n\n[ok](sub/b.md#b-title) [pic](sub/pic.png) [self](#a) \
                       [web](https://example.org/x) [mail](mailto:a@example.org)\n\
                       [anchor](sub/b.md#nope) [gone](nope.md) [out](../code.rs) [abs](/a.md)\n\n\
                       {{#include ../code.rs:here}} {{#include ../code.rs:2:3}}\n\
                       {{#include ../code.rs:there}} {{#include ../missing.rs}}\n";
        fs::write(src.join("a.md"), chapter).expect("write");
        let problems = link_problems(&src, root.path()).expect("checked");
        assert_eq!(
            problems,
            [
                "src/a.md: link (sub/b.md#nope): no heading with id `nope` in src/sub/b.md",
                "src/a.md: link (nope.md): no such file src/nope.md",
                "src/a.md: link (../code.rs): code.rs is outside src, so the built book does not have it; link to the repository instead",
                "src/a.md: link (/a.md): an absolute path; write it relative to this file",
                "src/a.md: {{#include ../code.rs:there}}: no `ANCHOR: there` in code.rs",
                "src/a.md: {{#include ../missing.rs}}: no such file missing.rs",
            ]
        );
    }
}
