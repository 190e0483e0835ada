//! The `agebox` binary as the grader runs it: arguments, files, stdin and
//! stdout, exit codes, and one line on stderr for every failure.

use std::fs;
use std::path::Path;

use age::secrecy::ExposeSecret;
use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

fn agebox(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("agebox").expect("the agebox binary");
    command.current_dir(dir);
    command
}

/// Writes a key file as `age-keygen` does, and returns its recipient.
fn keygen(dir: &Path, name: &str) -> String {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let text = format!(
        "# created: 2025-01-01T00:00:00Z\n# public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    );
    fs::write(dir.join(name), text).expect("write the key file");
    recipient
}

/// The one line of `stderr`, without its newline.
fn one_line(stderr: &[u8]) -> String {
    let text = String::from_utf8(stderr.to_vec()).expect("stderr is UTF-8");
    assert_eq!(text.lines().count(), 1, "one line on stderr: {text:?}");
    assert!(text.ends_with('\n'), "{text:?}");
    text.trim_end().to_owned()
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn seal_then_unseal_through_files() {
    let dir = TempDir::new().expect("tempdir");
    let recipient = keygen(dir.path(), "key.txt");
    fs::write(dir.path().join("secret.env"), "WINE_DB_PASSWORD=hunter2\n").expect("write");

    agebox(dir.path())
        .args([
            "seal",
            "-r",
            &recipient,
            "-o",
            "secret.env.age",
            "secret.env",
        ])
        .assert()
        .success()
        .stdout("")
        .stderr("");
    let sealed = fs::read_to_string(dir.path().join("secret.env.age")).expect("sealed");
    assert!(
        sealed.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"),
        "{sealed}"
    );
    assert!(!sealed.contains("hunter2"));

    agebox(dir.path())
        .args([
            "unseal",
            "-i",
            "key.txt",
            "-o",
            "opened.env",
            "secret.env.age",
        ])
        .assert()
        .success()
        .stdout("")
        .stderr("");
    assert_eq!(
        fs::read_to_string(dir.path().join("opened.env")).expect("opened"),
        "WINE_DB_PASSWORD=hunter2\n"
    );
}

#[test]
fn seal_then_unseal_through_stdin_and_stdout() {
    let dir = TempDir::new().expect("tempdir");
    let alice = keygen(dir.path(), "alice.txt");
    let ci = keygen(dir.path(), "ci.txt");
    keygen(dir.path(), "other.txt");
    fs::write(
        dir.path().join("recipients.txt"),
        format!("# the team\n\n{alice}\n# the pipeline\n{ci}\n"),
    )
    .expect("write");

    let output = agebox(dir.path())
        .args(["seal", "-R", "recipients.txt"])
        .write_stdin("MODEL_REGISTRY_TOKEN=abc\n")
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    let sealed = output.stdout;
    assert!(sealed.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----\n"));

    // Every recipient opens it, with `-` for stdin and several -i.
    for key in ["alice.txt", "ci.txt"] {
        agebox(dir.path())
            .args(["unseal", "-i", "other.txt", "-i", key, "-"])
            .write_stdin(sealed.clone())
            .assert()
            .success()
            .stdout("MODEL_REGISTRY_TOKEN=abc\n")
            .stderr("");
    }
}

#[test]
fn the_wrong_key_exits_1_with_one_line_and_no_output() {
    let dir = TempDir::new().expect("tempdir");
    let recipient = keygen(dir.path(), "key.txt");
    keygen(dir.path(), "other.txt");
    let sealed = agebox(dir.path())
        .args(["seal", "-r", &recipient])
        .write_stdin("secret")
        .output()
        .expect("run")
        .stdout;

    let output = agebox(dir.path())
        .args(["unseal", "-i", "other.txt"])
        .write_stdin(sealed)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "{output:?}");
    assert_eq!(
        one_line(&output.stderr),
        "agebox: no identity in other.txt matches a recipient of the file"
    );
}

#[test]
fn a_tampered_last_chunk_of_200_kb_prints_nothing_and_writes_no_file() {
    let dir = TempDir::new().expect("tempdir");
    let recipient = keygen(dir.path(), "key.txt");
    let plaintext: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    fs::write(dir.path().join("big.txt"), &plaintext).expect("write");
    agebox(dir.path())
        .args(["seal", "-r", &recipient, "-o", "big.age", "big.txt"])
        .assert()
        .success();

    // The last line of the armor's body encodes the end of the last chunk:
    // change its first character.
    let armored = fs::read_to_string(dir.path().join("big.age")).expect("sealed");
    let mut lines: Vec<String> = armored.lines().map(str::to_owned).collect();
    let last = lines.len() - 2;
    let first = if lines[last].starts_with('A') {
        "B"
    } else {
        "A"
    };
    lines[last].replace_range(..1, first);
    fs::write(dir.path().join("tampered.age"), lines.join("\n") + "\n").expect("write");

    let output = agebox(dir.path())
        .args(["unseal", "-i", "key.txt", "tampered.age"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        output.stdout.is_empty(),
        "{} bytes on stdout",
        output.stdout.len()
    );
    assert_eq!(
        one_line(&output.stderr),
        "agebox: the file is damaged or was tampered with (authentication failed)"
    );

    let before = names(dir.path());
    agebox(dir.path())
        .args(["unseal", "-i", "key.txt", "-o", "big.out", "tampered.age"])
        .assert()
        .code(1)
        .stdout("");
    assert_eq!(
        names(dir.path()),
        before,
        "no output file, no temporary file"
    );

    // The untouched file still opens, whole.
    agebox(dir.path())
        .args(["unseal", "-i", "key.txt", "big.age"])
        .assert()
        .success()
        .stdout(predicate::eq(plaintext));
}

#[test]
fn a_failed_unseal_with_output_leaves_no_file() {
    let dir = TempDir::new().expect("tempdir");
    let recipient = keygen(dir.path(), "key.txt");
    keygen(dir.path(), "other.txt");
    agebox(dir.path())
        .args(["seal", "-r", &recipient, "-o", "sealed.age"])
        .write_stdin("secret")
        .assert()
        .success();

    let before = names(dir.path());
    agebox(dir.path())
        .args([
            "unseal",
            "-i",
            "other.txt",
            "-o",
            "opened.txt",
            "sealed.age",
        ])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with("agebox: no identity"));
    assert_eq!(names(dir.path()), before);
}

#[test]
fn sealing_without_a_valid_recipient_exits_2() {
    let dir = TempDir::new().expect("tempdir");
    fs::write(dir.path().join("nobody.txt"), "# no one yet\n\n").expect("write");
    let cases: [(&[&str], &str); 4] = [
        (&["seal"], "agebox: no recipients"),
        (&["seal", "-R", "nobody.txt"], "agebox: no recipients"),
        (
            &["seal", "-r", "age1notakey"],
            "agebox: -r: `age1notakey` is not",
        ),
        (
            &["seal", "-r", "AGE-SECRET-KEY-1QQQQ"],
            "agebox: -r: that is a secret key",
        ),
    ];
    for (args, start) in cases {
        let output = agebox(dir.path())
            .args(args)
            .write_stdin("secret")
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        let line = one_line(&output.stderr);
        assert!(line.starts_with(start), "{args:?}: {line}");
    }
    // Nothing that looks like a secret key is echoed.
    agebox(dir.path())
        .args(["seal", "-r", "AGE-SECRET-KEY-1QQQQ"])
        .assert()
        .stderr(predicate::str::contains("QQQQ").not());
}

#[test]
fn usage_errors_exit_2() {
    let dir = TempDir::new().expect("tempdir");
    agebox(dir.path()).arg("unseal").assert().code(2).stdout("");
    agebox(dir.path()).arg("open").assert().code(2).stdout("");
    agebox(dir.path()).assert().code(2).stdout("");
}

#[test]
fn unseal_failures_exit_1_with_one_line() {
    let dir = TempDir::new().expect("tempdir");
    let recipient = keygen(dir.path(), "key.txt");
    fs::write(dir.path().join("empty.txt"), "").expect("write");
    fs::write(dir.path().join("plain.txt"), "not sealed\n").expect("write");
    agebox(dir.path())
        .args(["seal", "-r", &recipient, "-o", "sealed.age", "plain.txt"])
        .assert()
        .success();

    let cases: [(&[&str], &str); 5] = [
        (
            &["unseal", "-i", "key.txt", "plain.txt"],
            "agebox: the input is not an age file (no valid age header)",
        ),
        (
            &["unseal", "-i", "key.txt", "empty.txt"],
            "agebox: the input is not an age file (it is empty)",
        ),
        (
            &["unseal", "-i", "empty.txt", "sealed.age"],
            "agebox: empty.txt holds no identity (AGE-SECRET-KEY-1...)",
        ),
        (
            &["unseal", "-i", "missing.txt", "sealed.age"],
            "agebox: cannot read missing.txt: ",
        ),
        (
            &["unseal", "-i", "key.txt", "missing.age"],
            "agebox: cannot read missing.age: ",
        ),
    ];
    for (args, start) in cases {
        let output = agebox(dir.path()).args(args).output().expect("run");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        let line = one_line(&output.stderr);
        assert!(line.starts_with(start), "{args:?}: {line}");
    }
}
