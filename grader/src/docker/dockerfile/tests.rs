use super::*;
use std::path::{Path, PathBuf};

const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    (pairs.iter())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn allow(patterns: &[&str]) -> AllowList {
    AllowList::new(patterns).expect("valid patterns")
}

/// The refusal of `dockerfile` with no build args and `python:3.12-slim` allowed.
fn refused(dockerfile: &str) -> Refusal {
    refused_with(dockerfile, &args(&[]))
}

fn refused_with(dockerfile: &str, build_args: &BTreeMap<String, String>) -> Refusal {
    match check(dockerfile, build_args, &allow(&["python:3.12-slim"])) {
        Ok(uses) => panic!("not refused: {dockerfile:?} uses {uses:?}"),
        Err(r) => r,
    }
}

fn passes(dockerfile: &str) -> Vec<ImageUse> {
    check(dockerfile, &args(&[]), &allow(&["python:3.12-slim"]))
        .unwrap_or_else(|r| panic!("refused: {dockerfile:?}: {r}"))
}

fn assert_refused(dockerfile: &str, line: usize, needle: &str) {
    let r = refused(dockerfile);
    assert_eq!(r.line, line, "{r}");
    assert!(
        r.message.starts_with(&format!("Dockerfile line {line}: ")),
        "{r}"
    );
    assert!(r.message.contains(needle), "{r:?} lacks {needle:?}");
    assert!(!r.message.contains('\n'), "{r:?}");
}

fn repository_dockerfiles() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for top in ["solutions", "labs"] {
        let entries = std::fs::read_dir(root.join(top)).expect("read the folder");
        for entry in entries {
            let path = entry.expect("a folder entry").path().join("Dockerfile");
            if let Ok(text) = std::fs::read_to_string(&path) {
                found.push((path, text));
            }
        }
    }
    found.sort();
    assert!(found.len() >= 10, "found {} Dockerfiles", found.len());
    found
}

fn uses(refs: &[&str]) -> Vec<String> {
    refs.iter().map(|r| r.to_string()).collect()
}

#[test]
fn repository_dockerfiles_pass_with_the_graders_build_args() {
    let build_args = args(&[
        ("BUILDER_IMAGE", "mlops-local/rust-builder:1.95"),
        ("RUNTIME_IMAGE", "mlops-local/static:nonroot"),
    ]);
    for (path, text) in repository_dockerfiles() {
        let found = check(&text, &build_args, &allow(&["mlops-local/*"]))
            .unwrap_or_else(|r| panic!("{}: {r}", path.display()));
        let refs: Vec<String> = found.iter().map(|u| u.reference.clone()).collect();
        let expected = uses(&[
            "docker.io/mlops-local/rust-builder:1.95",
            "docker.io/mlops-local/static:nonroot",
        ]);
        assert_eq!(refs, expected, "{}", path.display());
        assert!(
            found
                .iter()
                .all(|u| u.how == "FROM" && u.platform.is_none())
        );
        // Allowed because the build args name them, with no allow-list at all.
        check(&text, &build_args, &allow(&[])).expect("images named by build args");
    }
}

#[test]
fn repository_dockerfiles_pass_with_their_defaults() {
    let defaults = allow(&["ghcr.io/mlops-course/*", "gcr.io/distroless/*"]);
    for (path, text) in repository_dockerfiles() {
        let found = check(&text, &args(&[]), &defaults)
            .unwrap_or_else(|r| panic!("{}: {r}", path.display()));
        let refs: Vec<String> = found.iter().map(|u| u.reference.clone()).collect();
        let expected = uses(&[
            "ghcr.io/mlops-course/rust-builder:1.95",
            "gcr.io/distroless/static-debian12:nonroot",
        ]);
        assert_eq!(refs, expected, "{}", path.display());
        let lines: Vec<usize> = found.iter().map(|u| u.line).collect();
        let from_lines: Vec<usize> = (text.lines().enumerate())
            .filter(|(_, l)| l.starts_with("FROM "))
            .map(|(i, _)| i + 1)
            .collect();
        assert_eq!(lines, from_lines, "{}", path.display());
    }
}

// ---- refusals ----------------------------------------------------------

#[test]
fn add_of_an_http_url_is_refused() {
    assert_refused(
        "FROM scratch\nADD http://127.0.0.1:8000/x /x\n",
        2,
        "ADD of a URL (http://127.0.0.1:8000/x) is not allowed: the daemon would fetch it \
         from the network; download it into the repository and COPY it",
    );
    let with_checksum = "FROM scratch\nADD --checksum=sha256:abc https://e.org/x /x\n";
    assert_refused(with_checksum, 2, "ADD of a URL");
}

#[test]
fn add_of_a_git_repository_is_refused() {
    let https = "FROM scratch\nADD --keep-git-dir=true https://github.com/a/b.git /src\n";
    assert_refused(
        https,
        2,
        "ADD of a git repository (https://github.com/a/b.git)",
    );
    assert_refused(
        "FROM scratch\nADD git@github.com:a/b.git /src\n",
        2,
        "git repository",
    );
    assert_refused("FROM scratch\nADD git://host/b /src\n", 2, "git repository");
    assert_refused(
        "FROM scratch\nADD ssh://me@host/b /src\n",
        2,
        "git repository",
    );
    assert_refused("FROM scratch\nADD me@host:b /src\n", 2, "git repository");
}

#[test]
fn local_add_and_copy_pass() {
    let df = "FROM python:3.12-slim AS build\nADD app.tar.gz /app/\nADD [\"a b\", \"/c\"]\n\
              COPY --chown=1:1 --chmod=755 src /src\nFROM scratch\nCOPY --from=build /app /app\n";
    let found = passes(df);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].reference, "docker.io/library/python:3.12-slim");
    assert_eq!((found[0].line, found[0].how), (1, "FROM"));
}

#[test]
fn from_a_registry_on_the_host_is_refused() {
    assert_refused(
        "FROM 127.0.0.1:5000/image:tag\n",
        1,
        "FROM 127.0.0.1:5000/image:tag is not an image this lab allows \
         (allowed: python:3.12-slim); an instructor can add it with --allow-image",
    );
}

#[test]
fn from_an_unlisted_image_is_refused() {
    assert_refused(
        "FROM python:3.13\n",
        1,
        "FROM python:3.13 (docker.io/library/python:3.13) is not an image this lab allows",
    );
    assert_refused(
        "FROM scratch AS a\nFROM 0\n",
        2,
        "FROM 0 (docker.io/library/0:latest)",
    );
}

#[test]
fn copy_from_an_image_is_refused() {
    assert_refused(
        "FROM scratch\nCOPY --from=evil.example/x:1 /a /b\n",
        2,
        "COPY --from=evil.example/x:1 is not an image this lab allows",
    );
    let allowed = passes("FROM scratch\nCOPY --from=python:3.12-slim /a /b\n");
    assert_eq!(allowed[0].how, "COPY --from");
    assert_refused(
        "FROM scratch\nADD --from=evil/x /a /b\n",
        2,
        "ADD --from=evil/x",
    );
}

#[test]
fn copy_from_earlier_stages_passes_and_later_ones_are_images() {
    let df = "FROM scratch AS Build\nFROM scratch\nCOPY --from=build /a /a\n\
              COPY --from=0 /a /a\nCOPY --from=BUILD /a /a\n";
    assert!(passes(df).is_empty());
    // Docker looks among completed stages only: the current one is an image.
    let own = "FROM scratch AS a\nCOPY --from=a /x /x\n";
    assert_refused(
        own,
        2,
        "COPY --from=a (docker.io/library/a:latest) is not an image",
    );
    let later = "FROM scratch\nCOPY --from=later /x /x\nFROM scratch AS later\n";
    assert_refused(later, 2, "COPY --from=later");
    assert_refused(
        "FROM scratch\nCOPY --from=1 /x /x\n",
        2,
        "names no earlier stage",
    );
    assert_refused(
        "FROM scratch\nCOPY --from=-1 /x /x\n",
        2,
        "names no earlier stage",
    );
    assert_refused(
        "FROM scratch\nCOPY --from /x /x\n",
        2,
        "COPY --from needs a value",
    );
}

#[test]
fn run_mount_from_an_image_is_refused() {
    assert_refused(
        "FROM scratch\nRUN --mount=type=bind,from=evil/x,target=/x true\n",
        2,
        "RUN --mount from=evil/x (docker.io/evil/x:latest) is not an image",
    );
    let cache = "FROM scratch AS b\nFROM scratch\nRUN --mount=type=cache,target=/c \\\n  \
                 --mount=type=secret,id=s --mount=type=bind,FROM=b,target=/b true\n";
    assert!(passes(cache).is_empty());
}

#[test]
fn onbuild_is_checked_like_its_instruction() {
    assert_refused(
        "FROM scratch\nONBUILD ADD http://x/y /y\n",
        2,
        "ADD of a URL",
    );
    assert_refused(
        "FROM scratch\nONBUILD COPY --from=evil/x /a /b\n",
        2,
        "evil/x",
    );
    assert_refused(
        "FROM scratch\nONBUILD RUN <<EOF\ntrue\nEOF\n",
        2,
        "heredocs",
    );
    assert_refused(
        "FROM scratch\nONBUILD FROM python:3.12-slim\n",
        2,
        "ONBUILD FROM",
    );
    // Read again later with the default escape: `\/` would become `/` there.
    let escaped = "# escape=`\nFROM scratch\nONBUILD ADD http:\\/\\/x/y /y\n";
    assert_refused(
        escaped,
        3,
        "ONBUILD ADD http:\\/\\/x/y uses variables, quotes",
    );
    assert_refused("FROM scratch\nONBUILD ADD $U /y\n", 2, "ONBUILD ADD $U");
    // A stage built on one with ONBUILD triggers cannot know its variables.
    let df = "FROM scratch AS base\nONBUILD ENV U=http://x/y\nFROM base\nADD $U /y\n";
    assert_refused(df, 4, "uses $U, which the grader cannot be sure of");
}

#[test]
fn heredocs_are_refused() {
    let message = "heredocs (<<EOF) are BuildKit syntax, but the grader builds with \
                   Docker's classic builder, which reads each line of a heredoc as an \
                   instruction of its own; write the script to a file, COPY it and RUN it";
    let run = "FROM scratch\nRUN <<EOF\nADD http://x/y /y\nEOF\n";
    assert_refused(run, 2, message);
    let copy = "FROM scratch\nCOPY <<EOF /hello\nhello\nEOF\n";
    assert_refused(copy, 2, message);
    let mounted = "FROM scratch\nRUN --network=none <<-'EOF'\n\ttrue\n\tEOF\n";
    assert_refused(mounted, 2, message);
}

#[test]
fn what_does_not_parse_is_refused_with_the_parsers_message() {
    assert_refused("FROM scratch\nFOO bar\n", 2, "unknown instruction 'FOO'");
    assert_refused("ARG A=1\n", 1, "expected at least one FROM instruction");
    assert_refused("RUN true\n", 1, "expected FROM");
    assert_refused("FROM scratch\nADD http://x\n", 2, "at least two arguments");
}

// ---- Dockerfiles written to slip past a naive reader -------------------

#[test]
fn lowercase_and_continued_keywords_are_read() {
    assert_refused("from scratch\nadd http://x/y /y\n", 2, "ADD of a URL");
    assert_refused("FROM scratch\nAD\\\nD http://x/y /y\n", 2, "ADD of a URL");
    assert_refused(
        "FROM scratch\nA\\\n# note\nDD http://x/y /y\n",
        2,
        "ADD of a URL",
    );
}

#[test]
fn continuations_and_comments_before_the_url_are_read() {
    assert_refused("FROM scratch\nADD \\\n  http://x/y /y\n", 2, "ADD of a URL");
    let comment = "FROM scratch\nADD --chown=1 \\\n# a comment\n\n  http://x/y \\\n /y\n";
    assert_refused(comment, 2, "(http://x/y)");
    let in_url = "FROM scratch\nADD http:/\\\n/x/y /y\n";
    assert_refused(in_url, 2, "ADD of a URL");
}

#[test]
fn backtick_escape_is_followed() {
    let df = "# escape=`\nFROM scratch\nADD `\n  http://x/y `\n  /y\n";
    assert_refused(df, 3, "ADD of a URL");
    // With the backtick as escape, a backslash continues nothing.
    let df = "# escape=`\nFROM scratch\nRUN echo \\\nADD http://x/y /y\n";
    assert_refused(df, 4, "ADD of a URL");
    // The escape character removes itself: `h`ttp` is `http`.
    let df = "# escape=`\nFROM scratch\nADD h`ttp:/`/x/y /y\n";
    assert_refused(df, 3, "(h`ttp:/`/x/y = http://x/y)");
}

#[test]
fn escape_directive_elsewhere_than_the_first_line_is_refused() {
    let df = "# syntax=docker/dockerfile:1\n# escape=`\nFROM scratch\n";
    assert_refused(df, 2, "an escape directive must be the first line");
    let df = "# check=skip=all\n# escape=`\nFROM scratch\nRUN echo `\nADD http://x/y /y\n";
    assert_refused(df, 2, "an escape directive must be the first line");
    assert_refused("#escape = ` x\nFROM scratch\n", 1, "escape directive");
    assert_refused(" # escape=`\nFROM scratch\n", 1, "escape directive");
    assert!(passes("# Escape = `\n# syntax=docker/dockerfile:1\nFROM scratch\n").is_empty());
    assert!(passes("# escape=\\\nFROM scratch\n# escape=`\nRUN true\n").is_empty());
}

#[test]
fn json_form_is_read() {
    assert_refused(
        "FROM scratch\nADD [\"http://x/y\", \"/y\"]\n",
        2,
        "(http://x/y)",
    );
    let escaped = "FROM scratch\nADD [\"http:\\/\\/x/y\", \"/y\"]\n";
    assert_refused(escaped, 2, "(http://x/y)");
    // Docker's JSON decoder ignores what follows the array; the parser does not.
    let trailing = "FROM scratch\nADD [\"http:\\/\\/x/y\", \"/y\"] junk\n";
    assert_refused(trailing, 2, "(http://x/y)");
    let invalid = "FROM scratch\nADD [\"a\\ud800\", \"/y\"] junk\n";
    assert_refused(invalid, 2, "not a JSON array of strings");
}

#[test]
fn quotes_and_escapes_in_sources_are_removed_as_docker_does() {
    assert_refused("FROM scratch\nADD \"http:\"//x/y /y\n", 2, "= http://x/y");
    assert_refused("FROM scratch\nADD 'http:'//x/y /y\n", 2, "= http://x/y");
    assert_refused("FROM scratch\nADD http:\\/\\/x/y /y\n", 2, "= http://x/y");
    assert_refused("FROM scratch\nADD h\"tt\"p:/\"/\"x /y\n", 2, "= http://x");
    assert_refused(
        "FROM scratch\nADD 'unclosed /y\n",
        2,
        "a single quote is not closed",
    );
}

#[test]
fn urls_built_from_variables_are_refused() {
    let arg = "FROM scratch\nARG U=http://127.0.0.1:9/x\nADD $U /x\n";
    assert_refused(arg, 3, "($U = http://127.0.0.1:9/x)");
    let braces = "FROM scratch\nARG U=http://127.0.0.1:9/x\nADD ${U} /x\n";
    assert_refused(braces, 3, "ADD of a URL");
    // The base image's ENV could set U: refused with the URL it would be.
    let on_image = "FROM python:3.12-slim\nARG U=http://127.0.0.1:9/x\nADD $U /x\n";
    assert_refused(on_image, 3, "ADD of a URL");
    let env = "FROM python:3.12-slim\nENV U=\"http://127.0.0.1:9\" V=x\nADD ${U}/x /x\n";
    assert_refused(env, 3, "(${U}/x = http://127.0.0.1:9/x)");
    let legacy = "FROM scratch\nENV U http://127.0.0.1:9/x\nADD $U /x\n";
    assert_refused(legacy, 3, "ADD of a URL");
    let default = "FROM scratch\nADD ${U:-http://127.0.0.1:9/x} /x\n";
    assert_refused(default, 2, "ADD of a URL");
    let plus = "FROM scratch\nARG S=1\nADD ${S:+http}://x/y /x\n";
    assert_refused(plus, 3, "ADD of a URL");
    let pieces = "FROM scratch\nARG A=ht B=tp\nENV C=\"${A}${B}:/\"\nADD $C/x/y /y\n";
    assert_refused(pieces, 4, "= http://x/y");
    let unicode = "FROM scratch\nENV U=a U\u{e9}=http://x/y\nADD $U\u{e9} /y\n";
    assert_refused(unicode, 3, "a parameter Docker versions read differently");
    let positional = "FROM scratch\nADD $1x /y\n";
    assert_refused(
        positional,
        2,
        "$1 is a parameter Docker versions read differently",
    );
}

#[test]
fn a_build_arg_overriding_a_default_is_followed() {
    let df = "FROM scratch\nARG U=local.txt\nADD $U /x\n";
    assert!(passes(df).is_empty());
    let r = refused_with(df, &args(&[("U", "http://127.0.0.1:9/x")]));
    assert_eq!(r.line, 3);
    assert!(
        r.message
            .contains("ADD of a URL ($U = http://127.0.0.1:9/x)"),
        "{r}"
    );
}

#[test]
fn a_global_arg_redeclared_in_a_stage_takes_its_global_value() {
    let df = "ARG U=http://127.0.0.1:9/x\nFROM scratch\nARG U\nADD $U /x\n";
    assert_refused(df, 4, "ADD of a URL ($U = http://127.0.0.1:9/x)");
    // Not redeclared: a global ARG is not visible in the stage.
    let df = "ARG U=http://127.0.0.1:9/x\nFROM scratch\nADD x$U /x\n";
    assert!(passes(df).is_empty());
    // A stage default wins over the global one, a build arg over both.
    let df = "ARG U=http://127.0.0.1:9/x\nFROM scratch\nARG U=file\nADD $U /x\n";
    assert!(passes(df).is_empty());
    let r = refused_with(df, &args(&[("U", "https://e.org/x")]));
    assert!(r.message.contains("ADD of a URL"), "{r}");
}

#[test]
fn variables_the_base_image_may_set_are_refused() {
    let df = "FROM python:3.12-slim\nARG F=file.txt\nADD $F /x\n";
    assert_refused(
        df,
        3,
        "ADD $F uses $F, which the grader cannot be sure of \
         (the base image's ENV may set it, and ENV wins over ARG)",
    );
    assert_refused(
        "FROM python:3.12-slim\nADD $PYTHON_URL /x\n",
        2,
        "$PYTHON_URL",
    );
    assert!(passes("FROM scratch\nARG F=file.txt\nADD $F /x\n").is_empty());
    assert_eq!(
        passes("FROM python:3.12-slim\nENV F=file.txt\nADD $F /x\n").len(),
        1
    );
    // A stage built on an earlier one knows that stage's ENV.
    let df = "FROM scratch AS a\nENV F=file.txt\nFROM a\nADD ${F} /x\n";
    assert!(passes(df).is_empty());
    let df = "FROM python:3.12-slim\nARG S=b\nCOPY --from=$S /a /a\n";
    assert_refused(df, 3, "COPY --from $S uses $S");
}

#[test]
fn from_follows_global_args_and_build_args() {
    let df = "ARG IMG=evil.example/x:1\nFROM ${IMG}\n";
    assert_refused(
        df,
        2,
        "FROM evil.example/x:1 is not an image this lab allows",
    );
    let with = args(&[("IMG", "python:3.12-slim")]);
    let found = check(df, &with, &allow(&[])).expect("named by a build arg");
    assert_eq!(found[0].reference, "docker.io/library/python:3.12-slim");
    let quoted = "ARG IMG=\"python:3.12-slim\"\nFROM \"$IMG\"\n";
    assert_eq!(passes(quoted).len(), 1);
    // A stage's ARG is not a global one.
    let stage = "FROM scratch\nARG IMG=python:3.12-slim\nFROM ${IMG}\n";
    assert_refused(stage, 3, "FROM ${IMG} names no image once its variables");
    assert_refused("ARG IMG\nFROM $IMG\n", 2, "names no image");
    assert_refused("FROM python$\n", 1, "names no image");
    assert_refused(
        "ARG T=3.12\nFROM python:${T}-slim-${X\n",
        2,
        "a ${ is not closed",
    );
    let proxy = "FROM python:3.12-slim${HTTP_PROXY}\n";
    assert!(check(proxy, &args(&[]), &allow(&["python:3.12-slim"])).is_ok());
    let r = refused_with(proxy, &args(&[("HTTP_PROXY", "x")]));
    assert!(r.message.contains("uses $HTTP_PROXY"), "{r}");
}

#[test]
fn platforms_are_substituted_and_kept() {
    let df = "FROM --platform=linux/amd64 evil.example:5000/x\n";
    assert_refused(
        df,
        1,
        "FROM evil.example:5000/x (evil.example:5000/x:latest)",
    );
    let df = "ARG P=linux/arm64\nFROM --platform=$P python:3.12-slim\n\
              FROM --platform=linux/amd64 python:3.12-slim\nFROM python:3.12-slim\n\
              FROM --platform=$P docker.io/library/python:3.12-slim\n";
    let found = passes(df);
    let platforms: Vec<Option<&str>> = found.iter().map(|u| u.platform.as_deref()).collect();
    assert_eq!(platforms, [Some("linux/arm64"), Some("linux/amd64"), None]);
    assert_eq!(found.iter().map(|u| u.line).collect::<Vec<_>>(), [2, 3, 4]);
}

#[test]
fn crlf_and_a_byte_order_mark_are_read() {
    let crlf = "FROM scratch\r\nRUN true \\\r\n  && true\r\nADD http://x/y /y\r\n";
    assert_refused(crlf, 4, "ADD of a URL (http://x/y)");
    let bom = "\u{feff}# escape=`\r\nFROM scratch\r\nADD `\r\n http://x/y /y\r\n";
    assert_refused(bom, 3, "ADD of a URL (http://x/y)");
    assert_refused(
        "\u{feff}FROM evil.example/x\n",
        1,
        "is not an image this lab allows",
    );
    assert!(passes("\u{feff}FROM scratch\r\nCOPY a /a\r\n").is_empty());
}

#[test]
fn characters_docker_reads_differently_are_refused() {
    // The parser continues `\ <CR> <LF>`'s line; Docker does not, and runs the ADD.
    let cr = "FROM scratch\nRUN echo \\ \r \nADD http://x/y /y\n";
    assert_refused(cr, 2, "a carriage return that does not end the line");
    let vt = "FROM scratch\nRUN echo \\ \u{b}\nADD http://x/y /y\n";
    assert_refused(vt, 2, "a control character (U+000B)");
    // Docker's flag reader splits at the byte 0xA0 of `\u{e0}`: two flags.
    let flags = "FROM scratch\nCOPY --chown=1\u{e0}--from=evil/x /a /b\n";
    assert_refused(
        flags,
        2,
        "the flag --chown has quotes, escapes or non-ASCII",
    );
    let nbsp = "FROM scratch\nADD\u{a0}[\"http:\\/\\/x\", \"/y\"]\n";
    assert_refused(nbsp, 2, "a space other than a plain space or tab (U+00A0)");
    // Comments may hold anything.
    assert!(passes("# caf\u{e9}\u{a0}: \u{b}\nFROM scratch\n  # \u{2003}\n").is_empty());
}

#[test]
fn quoted_flags_are_refused() {
    // Docker reads `--chown="a b"` as one flag and then sees --from.
    let df = "FROM scratch\nCOPY --chown=\"a b\" --from=evil/x /a /b\n";
    assert_refused(df, 2, "the flag --chown has quotes");
    let df = "FROM scratch\nCOPY --chown=a\\ --from=evil/x /a /b\n";
    assert_refused(df, 2, "the flag --chown has quotes");
}

#[test]
fn images_are_deduplicated_in_order() {
    let df = "FROM python:3.12-slim AS a\nFROM docker.io/library/python:3.12-slim\n\
              COPY --from=python:3.12-slim /a /a\nFROM scratch\n";
    let found = inputs(df, &args(&[])).expect("no refusal");
    assert_eq!(
        found,
        [ImageUse {
            reference: "docker.io/library/python:3.12-slim".into(),
            line: 1,
            how: "FROM",
            platform: None,
        },]
    );
    let found = inputs("FROM a\nFROM b\nCOPY --from=c /x /x\n", &args(&[]))
        .expect("inputs applies no allow-list");
    let refs: Vec<(&str, usize, &str)> = (found.iter())
        .map(|u| (u.reference.as_str(), u.line, u.how))
        .collect();
    assert_eq!(
        refs,
        [
            ("docker.io/library/a:latest", 1, "FROM"),
            ("docker.io/library/b:latest", 2, "FROM"),
            ("docker.io/library/c:latest", 3, "COPY --from"),
        ]
    );
}

#[test]
fn invalid_references_are_refused() {
    assert_refused(
        "FROM Python:3\n",
        1,
        "FROM Python:3 is not a valid image reference",
    );
    let id = "a".repeat(64);
    assert_refused(&format!("FROM {id}\n"), 1, "is not a valid image reference");
    assert_refused("FROM [::1]:5000/x\n", 1, "is not a valid image reference");
}

// ---- references and the allow-list -----------------------------------

#[test]
fn references_are_normalised_as_docker_does() {
    let cases = [
        ("python", Some("docker.io/library/python:latest")),
        ("python:3.12", Some("docker.io/library/python:3.12")),
        ("library/python:3.12", Some("docker.io/library/python:3.12")),
        (
            "docker.io/python:3.12",
            Some("docker.io/library/python:3.12"),
        ),
        (
            "index.docker.io/library/python",
            Some("docker.io/library/python:latest"),
        ),
        (
            "mlops-local/static:nonroot",
            Some("docker.io/mlops-local/static:nonroot"),
        ),
        ("localhost/x", Some("localhost/x:latest")),
        ("localhost:5000/x:1", Some("localhost:5000/x:1")),
        ("127.0.0.1:5000/image:tag", Some("127.0.0.1:5000/image:tag")),
        ("ghcr.io/a/b/c:1.0-rc_1", Some("ghcr.io/a/b/c:1.0-rc_1")),
        ("Host/x", Some("Host/x:latest")),
        ("a__b-c--d/e.f", Some("docker.io/a__b-c--d/e.f:latest")),
        ("a__b.c/e", None),
        ("localhost:5000", Some("docker.io/library/localhost:5000")),
        ("", None),
        ("python:", None),
        ("python:3 ", None),
        ("Python", None),
        ("a/B", None),
        ("a_/b", None),
        ("a/.b", None),
        ("a___b", None),
        ("-h/x", None),
        ("host:port/x", None),
        ("[::1]:5000/x", None),
        ("http://x/y", None),
        ("python@sha256:abc", None),
        ("python@md5:0123456789abcdef0123456789abcdef", None),
        ("$IMG", None),
        ("x\u{e9}", None),
    ];
    for (reference, expected) in cases {
        assert_eq!(normalise(reference).as_deref(), expected, "{reference:?}");
    }
    let pinned = format!("python:3.12@{SHA}");
    assert_eq!(
        normalise(&pinned),
        Some(format!("docker.io/library/{pinned}"))
    );
    let digest_only = format!("python@{SHA}");
    assert_eq!(
        normalise(&digest_only),
        Some(format!("docker.io/library/{digest_only}"))
    );
    assert_eq!(normalise(&format!("x:{}", "t".repeat(129))), None);
}

#[test]
fn an_exact_pattern_allows_one_reference() {
    let list = allow(&["python:3.12-slim"]);
    assert!(list.allows("python:3.12-slim"));
    assert!(list.allows("docker.io/library/python:3.12-slim"));
    assert!(list.allows("index.docker.io/library/python:3.12-slim"));
    assert!(!list.allows("127.0.0.1:5000/python:3.12-slim"));
    assert!(!list.allows("python:3.12-slim-evil"));
    assert!(!list.allows("python:3.12"));
    assert!(!list.allows("python"));
    assert!(!list.allows(&format!("python:3.12-slim@{SHA}")));
    assert!(!list.allows("not a reference"));
    assert!(allow(&["python"]).allows("python:latest"));
}

#[test]
fn wildcards_do_not_cross_slashes_nor_registries() {
    let list = allow(&["mlops-local/*"]);
    assert!(list.allows("mlops-local/static:nonroot"));
    assert!(list.allows("docker.io/mlops-local/rust-builder:1.95"));
    assert!(list.allows("mlops-local/static"));
    assert!(list.allows(&format!("mlops-local/static@{SHA}")));
    assert!(!list.allows("mlops-local/a/b:1"));
    assert!(!list.allows("localhost/mlops-local/x"));
    assert!(!list.allows("evil.example/mlops-local/x"));
    assert!(!list.allows("mlops-local-evil/x"));
    let tags = allow(&["python:3.12-*", "gcr.io/distroless/static-debian1?:nonroot"]);
    assert!(tags.allows("python:3.12-slim"));
    assert!(tags.allows(&format!("python:3.12-slim@{SHA}")));
    assert!(!tags.allows("python:3.13-slim"));
    assert!(tags.allows("gcr.io/distroless/static-debian12:nonroot"));
    assert!(!tags.allows("gcr.io/distroless/static-debian12:latest"));
    assert!(!tags.allows("gcr.io/distroless/static-debian123:nonroot"));
    let registry = allow(&["ghcr.io/mlops-course/*"]);
    assert!(registry.allows("ghcr.io/mlops-course/rust-builder:1.95"));
    assert!(!registry.allows("ghcr.io/mlops-course/a/b"));
    assert!(!registry.allows("mlops-course/rust-builder:1.95"));
}

#[test]
fn digest_patterns_allow_that_digest() {
    let pinned = format!("python@{SHA}");
    let list = allow(&[pinned.as_str()]);
    assert!(list.allows(&pinned));
    assert!(list.allows(&format!("docker.io/library/{pinned}")));
    assert!(!list.allows("python:latest"));
    assert!(!list.allows(&format!("python@sha256:{}", "f".repeat(64))));
}

/// Library code never panics: any text is read or refused.
#[test]
fn no_input_panics() {
    use rand::{Rng, SeedableRng};
    let pieces = [
        "FROM ",
        "ADD ",
        "COPY ",
        "RUN ",
        "ARG ",
        "ENV ",
        "ONBUILD ",
        "add ",
        "--from=",
        "--mount=",
        "--platform=",
        "type=bind,from=",
        "AS ",
        "scratch",
        "python:3.12-slim",
        "$",
        "${",
        "}",
        ":-",
        ":+",
        "-",
        "?",
        "\"",
        "'",
        "\\",
        "`",
        "\n",
        "\r\n",
        "\r",
        " ",
        "\t",
        "#",
        "# escape=`",
        "escape=",
        "<<EOF",
        "EOF",
        "[",
        "]",
        ",",
        "http://",
        "x",
        "U",
        "=",
        "/",
        "0",
        "1",
        "@",
        ":",
        ".",
        "é",
        "\u{a0}",
        "\u{feff}",
        "\u{b}",
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let build_args = args(&[("U", "http://x/y"), ("IMG", "python:3.12-slim")]);
    let list = allow(&["python:*", "x"]);
    for i in 0..20_000 {
        let mut text = String::from(if i % 2 == 0 {
            "FROM scratch AS x\n"
        } else {
            ""
        });
        for _ in 0..rng.random_range(1..40) {
            text.push_str(pieces[rng.random_range(0..pieces.len())]);
        }
        if let Err(r) = check(&text, &build_args, &list) {
            assert!(r.line >= 1 && !r.message.contains('\n'), "{text:?}: {r:?}");
        }
    }
}

#[test]
fn invalid_patterns_are_errors() {
    for bad in [
        "",
        "Python",
        "python:3.12 evil",
        "http://x/*",
        "a/*/B",
        "python@sha256:*",
    ] {
        assert!(AllowList::new([bad]).is_err(), "{bad:?}");
    }
    let e = AllowList::new(["ok/*", "NO"]).expect_err("NO is not a reference");
    assert!(e.contains("\"NO\" is not an image pattern"), "{e}");
}
