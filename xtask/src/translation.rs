//! The book's translations (po/, see po/README.md): the English book's
//! messages extracted into `po/messages.pot` by mdbook-i18n-helpers'
//! `mdbook-xgettext`, merged into each language's catalogue (`po/ko.po`) by
//! GNU gettext's `msgmerge`, and judged by gettext's own `msgcmp`: a message
//! the catalogue leaves untranslated or fuzzy fails the book's check, so an
//! English change cannot land without its translation.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use anyhow::{Context, Result, bail};
use regex::Regex;

use crate::{cmd, workspace};

/// A translation of the book.
pub struct Language {
    /// The gettext code: `po/<code>.po`, and the folder under the English
    /// build's root where this edition is published.
    pub code: &'static str,
    /// The book's title in this language (book.toml's is English).
    pub title: &'static str,
    pub description: &'static str,
}

pub const LANGUAGES: &[Language] = &[Language {
    code: "ko",
    title: "Rust로 배우는 MLOps: 15주 과정 실습서",
    description: "Rust로 배우는 공개 MLOps 과정: 매주 한 장과 자동으로 채점되는 실습 하나.",
}];

/// The xgettext renderer's settings: no line numbers in the references, so
/// that an edit to one paragraph does not touch every later message's entry.
const XGETTEXT: &str = r#"{"xgettext": {"pot-file": "messages.pot", "granularity": 0}}"#;

fn po_dir() -> PathBuf {
    workspace::root().join("po")
}

/// Extracts the English book's messages into `dir/messages.pot`.
fn extract(dir: &Path) -> Result<PathBuf> {
    let mut command = Command::new("mdbook");
    command
        .args(["build", "-d"])
        .arg(dir)
        .current_dir(workspace::root())
        .env("MDBOOK_OUTPUT", XGETTEXT);
    let out = cmd::output_raw(&mut command)?;
    if !out.status.success() {
        bail!(
            "extracting the book's messages failed: {}",
            cmd::telling_line(&out.stderr)
        );
    }
    let pot = dir.join("messages.pot");
    if !pot.is_file() {
        bail!("mdbook-xgettext wrote no {}", pot.display());
    }
    Ok(pot)
}

/// A template without its creation date, which changes on every extraction.
fn without_date(pot: &str) -> String {
    pot.lines()
        .filter(|l| !l.starts_with("\"POT-Creation-Date:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `cargo xtask po`: extracts `po/messages.pot` again and merges it into every
/// catalogue. New messages arrive untranslated, changed ones fuzzy (with the
/// old English beside them, `#| msgid`), removed ones are dropped.
pub fn update() -> Result<()> {
    let scratch = tempfile::tempdir().context("creating a folder for the extraction")?;
    let fresh = extract(scratch.path())?;
    let committed = po_dir().join("messages.pot");
    let fresh_text = fs::read_to_string(&fresh)?;
    let unchanged = fs::read_to_string(&committed)
        .is_ok_and(|old| without_date(&old) == without_date(&fresh_text));
    if !unchanged {
        fs::write(&committed, &fresh_text)
            .with_context(|| format!("writing {}", committed.display()))?;
    }
    println!(
        "po/messages.pot: {}",
        if unchanged { "unchanged" } else { "updated" }
    );
    for language in LANGUAGES {
        let po = po_dir().join(format!("{}.po", language.code));
        if !po.is_file() {
            cmd::run(
                Command::new("msginit")
                    .args(["--no-translator", "--no-wrap", "-l", language.code, "-i"])
                    .arg(&committed)
                    .arg("-o")
                    .arg(&po),
            )?;
        }
        cmd::run(
            Command::new("msgmerge")
                .args(["--quiet", "--update", "--backup=none", "--previous"])
                .arg(&po)
                .arg(&committed),
        )?;
        cmd::run(
            Command::new("msgattrib")
                .args(["--no-obsolete", "-o"])
                .arg(&po)
                .arg(&po),
        )?;
        let stats = cmd::output_raw(
            Command::new("msgfmt")
                .args(["--statistics", "-o", "/dev/null"])
                .arg(&po),
        )?;
        println!(
            "po/{}.po: {}",
            language.code,
            String::from_utf8_lossy(&stats.stderr).trim()
        );
    }
    Ok(())
}

/// The book's translation check: `po/messages.pot` is the English book's,
/// and every catalogue translates each of its messages, none fuzzy.
pub fn check() -> Result<()> {
    let scratch = tempfile::tempdir().context("creating a folder for the extraction")?;
    let fresh = extract(scratch.path())?;
    let committed = po_dir().join("messages.pot");
    let old = fs::read_to_string(&committed)
        .with_context(|| format!("reading {}", committed.display()))?;
    if without_date(&old) != without_date(&fs::read_to_string(&fresh)?) {
        bail!(
            "po/messages.pot is not the English book's: run `cargo xtask po`, then translate \
             what it marks (po/README.md)"
        );
    }
    for language in LANGUAGES {
        let po = po_dir().join(format!("{}.po", language.code));
        let problems = catalogue_problems(&po, &committed)?;
        for problem in &problems {
            eprintln!("{problem}");
        }
        if let Some(first) = problems.first() {
            bail!(
                "po/{}.po is behind the English book: {} message(s) untranslated or fuzzy \
                 (first: {first}); translate them (po/README.md)",
                language.code,
                problems.len(),
            );
        }
    }
    Ok(())
}

/// What gettext's `msgcmp` finds wrong with catalogue `po` against template
/// `pot`: each message untranslated, fuzzy or missing, one line each; then
/// `msgfmt --check` on the catalogue (its format and header).
fn catalogue_problems(po: &Path, pot: &Path) -> Result<Vec<String>> {
    let out = cmd::output_raw(Command::new("msgcmp").arg(po).arg(pot))?;
    let report = String::from_utf8_lossy(&out.stderr);
    let mut problems: Vec<String> = report
        .lines()
        .filter(|l| !l.contains("warning:") && !l.starts_with("msgcmp:"))
        .map(|l| l.trim().to_owned())
        .collect();
    if !out.status.success() && problems.is_empty() {
        problems.push(cmd::telling_line(&out.stderr));
    }
    if problems.is_empty() {
        let check = cmd::output_raw(
            Command::new("msgfmt")
                .args(["--check", "-o", "/dev/null"])
                .arg(po),
        )?;
        if !check.status.success() {
            problems.push(cmd::telling_line(&check.stderr));
        }
    }
    Ok(problems)
}

/// The English book's published address and repository, from book.toml, for
/// the translations' own: `<site-url><code>/`, and "Suggest an edit" opening
/// the catalogue instead of the English chapter.
#[derive(serde::Deserialize)]
struct Html {
    #[serde(rename = "site-url")]
    site_url: String,
    #[serde(rename = "git-repository-url")]
    repository: String,
}

fn english_html() -> Result<Html> {
    #[derive(serde::Deserialize)]
    struct Output {
        html: Html,
    }
    #[derive(serde::Deserialize)]
    struct BookToml {
        output: Output,
    }
    let path = workspace::root().join("book.toml");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let book: BookToml =
        toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    Ok(book.output.html)
}

/// The `mdbook build` or `mdbook test` command for a translation; a build
/// goes into `<English build>/<code>/`, so it must come after the English
/// one (mdBook empties its build folder first).
pub fn mdbook(sub: &str, language: &Language, english_build: &Path) -> Result<Command> {
    let html = english_html()?;
    let mut command = Command::new("mdbook");
    command
        .arg(sub)
        .current_dir(workspace::root())
        .env("MDBOOK_BOOK__LANGUAGE", language.code)
        .env("MDBOOK_BOOK__TITLE", language.title)
        .env("MDBOOK_BOOK__DESCRIPTION", language.description)
        .env(
            "MDBOOK_OUTPUT__HTML__EDIT_URL_TEMPLATE",
            format!("{}/edit/main/po/{}.po", html.repository, language.code),
        )
        .env(
            "MDBOOK_OUTPUT__HTML__SITE_URL",
            format!("{}{}/", html.site_url, language.code),
        );
    if sub == "build" {
        command.arg("-d").arg(english_build.join(language.code));
    }
    Ok(command)
}

/// Pages whose language switch is followed both ways: the front page, a
/// chapter one folder down, and the glossary.
const SWITCHED_PAGES: &[&str] = &["index.html", "weeks/week05-dotfiles.html", "glossary.html"];

/// The built editions, looked at in headless Chromium: a Korean font is
/// installed for the Korean pages (Debian's fonts-noto-cjk), and each
/// page's language switch leads to the same page in the other language.
pub fn check_pages(english_build: &Path) -> Result<()> {
    let fonts = cmd::output(Command::new("fc-list").args([":lang=ko", "family"]))?;
    if fonts.is_empty() {
        bail!(
            "no font for Korean is installed, so the Korean pages would show empty boxes: \
             install the Debian package `fonts-noto-cjk`"
        );
    }
    for language in LANGUAGES {
        let problems = structure_problems(english_build, &english_build.join(language.code))?;
        for problem in &problems {
            eprintln!("{problem}");
        }
        if let Some(first) = problems.first() {
            bail!(
                "{} problem(s) in the {} edition's pages: {first}",
                problems.len(),
                language.code
            );
        }
    }
    let chromium = crate::book_diagrams::chromium()?;
    for language in LANGUAGES {
        let other = english_build.join(language.code);
        for page in SWITCHED_PAGES {
            for (from, to) in [
                (english_build, other.as_path()),
                (other.as_path(), english_build),
            ] {
                let target = switch_target(&chromium, &from.join(page))?;
                let expected = to.join(page);
                if target != expected {
                    bail!(
                        "the language switch on {} leads to {}, not {}",
                        from.join(page).display(),
                        target.display(),
                        expected.display()
                    );
                }
            }
        }
    }
    Ok(())
}

/// The elements a translation must keep, counted per page: emphasis, code,
/// links, images, lists, tables, headings, code blocks, quotes, footnotes.
/// A translated message whose Markdown broke (an emphasis that does not
/// close before a Korean particle, a lost code span) changes a count.
const KEPT: &[&str] = &[
    "em",
    "strong",
    "code",
    "a",
    "img",
    "li",
    "table",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "pre",
    "blockquote",
    "sup",
    "dt",
];

static OPENING_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<([a-z][a-z0-9]*)[\s>]").expect("a valid regex"));
static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r##"<a [^>]*href="([^"#:]*)#([^"]+)""##).expect("a valid regex"));
static ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\sid="([^"]+)""#).expect("a valid regex"));

/// A page's `<main>`, where the chapter is.
fn main_of(html: &str) -> &str {
    let start = html.find("<main>").map_or(0, |i| i + "<main>".len());
    let end = html[start..]
        .find("</main>")
        .map_or(html.len(), |i| start + i);
    &html[start..end]
}

fn tag_counts(main: &str) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for tag in OPENING_TAG.captures_iter(main) {
        if let Some(kept) = KEPT.iter().find(|k| **k == &tag[1]) {
            *counts.entry(*kept).or_default() += 1;
        }
    }
    counts
}

/// Compares each translated page with its English one (the same elements,
/// as many of each), and checks that every link to an anchor in the
/// translation finds that anchor: a heading's id is made from its text, so
/// a translated heading that is linked to needs an explicit `{#id}`.
fn structure_problems(english: &Path, translated: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for page in chapter_pages(english)? {
        let relative = page.strip_prefix(english)?;
        let theirs = translated.join(relative);
        let (en, tr) = (
            fs::read_to_string(&page)?,
            fs::read_to_string(&theirs)
                .with_context(|| format!("the translation has no {}", relative.display()))?,
        );
        let (en_counts, tr_counts) = (tag_counts(main_of(&en)), tag_counts(main_of(&tr)));
        for tag in KEPT {
            let (a, b) = (
                en_counts.get(tag).unwrap_or(&0),
                tr_counts.get(tag).unwrap_or(&0),
            );
            if a != b {
                problems.push(format!(
                    "{}: {a} <{tag}> in English, {b} translated (broken Markdown in a message?)",
                    relative.display()
                ));
            }
        }
        for link in LINK.captures_iter(main_of(&tr)) {
            let target = if link[1].is_empty() {
                theirs.clone()
            } else {
                theirs.parent().unwrap_or(translated).join(&link[1])
            };
            let ids: Vec<String> = fs::read_to_string(&target)
                .map(|t| ID.captures_iter(&t).map(|c| c[1].to_owned()).collect())
                .unwrap_or_default();
            if !ids.iter().any(|id| *id == link[2]) {
                problems.push(format!(
                    "{}: the link to {}#{} finds no such anchor (give the heading an explicit {{#{}}})",
                    relative.display(),
                    &link[1],
                    &link[2],
                    &link[2]
                ));
            }
        }
    }
    Ok(problems)
}

/// The English build's chapter pages (not the translations under it).
fn chapter_pages(english: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    workspace::walk(english, english, &mut files)?;
    let mut pages = Vec::new();
    for file in files {
        let path = Path::new(&file);
        let top = path
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str());
        let translation =
            path.components().count() > 1 && LANGUAGES.iter().any(|l| Some(l.code) == top);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let page = english.join(path);
        if !translation
            && name.ends_with(".html")
            && !["print.html", "toc.html", "404.html"].contains(&name)
            && fs::read_to_string(&page).is_ok_and(|t| t.contains("<main>"))
        {
            pages.push(page);
        }
    }
    pages.sort();
    Ok(pages)
}

/// Where the language switch on `page` leads, as a file path.
fn switch_target(chromium: &Path, page: &Path) -> Result<PathBuf> {
    let dom = cmd::output(
        Command::new(chromium)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--dump-dom",
            ])
            .arg(format!("file://{}", page.display())),
    )?;
    let tag_start = dom
        .find("id=\"language-switch\"")
        .and_then(|at| dom[..at].rfind('<'))
        .with_context(|| format!("{} has no language switch", page.display()))?;
    let tag = &dom[tag_start
        ..dom[tag_start..]
            .find('>')
            .map_or(dom.len(), |e| tag_start + e)];
    let href = tag
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .with_context(|| format!("the language switch on {} has no link", page.display()))?;
    let path = href.strip_prefix("file://").with_context(|| {
        format!(
            "the language switch on {} leads off the book: {href}",
            page.display()
        )
    })?;
    Ok(PathBuf::from(path.split('#').next().unwrap_or(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "msgid \"\"\nmsgstr \"\"\n\"Language: ko\\n\"\n\"Content-Type: text/plain; charset=UTF-8\\n\"\n\n";

    fn catalogue(dir: &Path, body: &str) -> (PathBuf, PathBuf) {
        let pot = dir.join("messages.pot");
        fs::write(
            &pot,
            format!("{HEADER}msgid \"One\"\nmsgstr \"\"\n\nmsgid \"Two\"\nmsgstr \"\"\n"),
        )
        .expect("writing the test files");
        let po = dir.join("ko.po");
        fs::write(&po, format!("{HEADER}{body}")).expect("writing the test files");
        (po, pot)
    }

    #[test]
    fn a_complete_catalogue_has_no_problems() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let (po, pot) = catalogue(
            dir.path(),
            "msgid \"One\"\nmsgstr \"하나\"\n\nmsgid \"Two\"\nmsgstr \"둘\"\n",
        );
        assert_eq!(
            catalogue_problems(&po, &pot).expect("msgcmp runs"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn untranslated_fuzzy_and_missing_messages_are_each_a_problem() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let (po, pot) = catalogue(dir.path(), "#, fuzzy\nmsgid \"One\"\nmsgstr \"하나\"\n");
        let problems = catalogue_problems(&po, &pot).expect("msgcmp runs");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("reviewed"), "{problems:?}");
        assert!(problems[1].contains("not defined"), "{problems:?}");
        let (po, pot) = catalogue(
            dir.path(),
            "msgid \"One\"\nmsgstr \"하나\"\n\nmsgid \"Two\"\nmsgstr \"\"\n",
        );
        let problems = catalogue_problems(&po, &pot).expect("msgcmp runs");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("untranslated"), "{problems:?}");
    }

    fn page(main: &str) -> String {
        format!("<html><body><nav><a href=\"x.html\">x</a></nav><main>{main}</main></body></html>")
    }

    #[test]
    fn a_translation_that_lost_an_element_or_an_anchor_is_a_problem() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let (en, ko) = (dir.path().join("en"), dir.path().join("en").join("ko"));
        fs::create_dir_all(ko.join("weeks")).expect("writing the test files");
        fs::create_dir_all(en.join("weeks")).expect("writing the test files");
        let english = page(
            "<h2 id=\"worked-example\">Worked example</h2><p>It <em>is</em> <code>x</code>, see <a href=\"#worked-example\">above</a>.</p>",
        );
        fs::write(en.join("weeks").join("a.html"), &english).expect("writing the test files");
        // The same elements, a translated heading that kept its explicit id.
        let good = page(
            "<h2 id=\"worked-example\">예제</h2><p><em>바로</em> <code>x</code>입니다. <a href=\"#worked-example\">위</a>를 보세요.</p>",
        );
        fs::write(ko.join("weeks").join("a.html"), &good).expect("writing the test files");
        assert_eq!(
            structure_problems(&en, &ko).expect("the pages read"),
            Vec::<String>::new()
        );
        // An emphasis left as _바로_입니다, and a heading id made from Korean.
        let bad = page(
            "<h2 id=\"예제\">예제</h2><p>_바로_ <code>x</code>입니다. <a href=\"#worked-example\">위</a>를 보세요.</p>",
        );
        fs::write(ko.join("weeks").join("a.html"), &bad).expect("writing the test files");
        let problems = structure_problems(&en, &ko).expect("the pages read");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("1 <em> in English, 0 translated"),
            "{problems:?}"
        );
        assert!(
            problems[1].contains("#worked-example finds no such anchor"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_creation_date_alone_is_no_change() {
        let a = "msgid \"\"\n\"POT-Creation-Date: 2026-01-01T00:00:00Z\\n\"\n\nmsgid \"x\"\n";
        let b = "msgid \"\"\n\"POT-Creation-Date: 2026-12-07T23:00:00Z\\n\"\n\nmsgid \"x\"\n";
        assert_eq!(without_date(a), without_date(b));
        assert_ne!(without_date(a), without_date(&b.replace("\"x\"", "\"y\"")));
    }
}
