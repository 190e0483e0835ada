//! The `wine-config` binary as the grader runs it: arguments, the
//! SETTINGS_FILE variable, stdout, exit codes, one line on stderr for every
//! failure, and never a secret value in either stream.
//!
//! This file is the solution's only: the lab's starter leaves it out (the
//! starter does not refuse encrypted or empty settings yet).

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

/// 24 and 40 characters, low in entropy on purpose: a secret scanner must
/// not take the tests for a leak.
const PASSWORD: &str = "hunter2-hunter2-hunter2-";
const TOKEN: &str = "tok-tok-tok-tok-tok-tok-tok-tok-tok-tok-";

const SHOWN: &str = "model_registry: https://models.example.org/wine\n\
                     db_password: <redacted, 24 characters>\n\
                     registry_token: <redacted, 40 characters>\n";

/// The binary, run in `dir` without the caller's SETTINGS_FILE.
fn wine_config(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("wine-config").expect("the wine-config binary");
    command.current_dir(dir).env_remove("SETTINGS_FILE");
    command
}

fn settings_yaml(model_registry: &str, db_password: &str, registry_token: &str) -> String {
    format!(
        "model_registry: {model_registry}\ndb_password: {db_password}\nregistry_token: {registry_token}\n"
    )
}

/// A folder holding `service.yaml` with `text`.
fn folder_with(text: &str) -> TempDir {
    let dir = TempDir::new().expect("tempdir");
    fs::write(dir.path().join("service.yaml"), text).expect("write the settings");
    dir
}

/// Runs `show --settings service.yaml` on `text` and checks the failure
/// contract: exit 1, nothing on stdout, one line on stderr without a secret.
/// Returns that line without `wine-config: ` and the newline.
fn failure(text: &str) -> String {
    let dir = folder_with(text);
    let output = wine_config(dir.path())
        .args(["show", "--settings", "service.yaml"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    let stderr = String::from_utf8(output.stderr).expect("stderr is UTF-8");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    assert!(!stderr.contains(TOKEN), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr:?}");
    stderr
        .strip_suffix('\n')
        .and_then(|line| line.strip_prefix("wine-config: "))
        .unwrap_or_else(|| panic!("`wine-config: <message>\\n`: {stderr:?}"))
        .to_owned()
}

#[test]
fn show_prints_the_settings_with_the_secrets_redacted() {
    let dir = folder_with(&settings_yaml(
        "https://models.example.org/wine",
        PASSWORD,
        TOKEN,
    ));
    wine_config(dir.path())
        .args(["show", "--settings", "service.yaml"])
        .assert()
        .success()
        .stdout(SHOWN)
        .stderr("");
}

#[test]
fn the_file_can_come_from_settings_file() {
    let dir = folder_with(&settings_yaml(
        "https://models.example.org/wine",
        PASSWORD,
        TOKEN,
    ));
    wine_config(dir.path())
        .arg("show")
        .env("SETTINGS_FILE", "service.yaml")
        .assert()
        .success()
        .stdout(SHOWN)
        .stderr("");
}

#[test]
fn other_keys_are_ignored() {
    let text = format!(
        "log_level: debug\n{}limits:\n  batch: 64\n",
        settings_yaml("https://models.example.org/wine", PASSWORD, TOKEN)
    );
    let dir = folder_with(&text);
    wine_config(dir.path())
        .args(["show", "--settings", "service.yaml"])
        .assert()
        .success()
        .stdout(SHOWN);
}

#[test]
fn a_missing_file_cannot_be_read() {
    let dir = TempDir::new().expect("tempdir");
    wine_config(dir.path())
        .args(["show", "--settings", "missing.yaml"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::starts_with("wine-config: cannot read missing.yaml: ")
                .and(predicate::str::ends_with("\n"))
                .and(predicate::str::contains('\n').count(1)),
        );
}

#[test]
fn a_file_sops_still_encrypts_is_refused() {
    let enc = "ENC[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC,type:str]";
    let expected = "service.yaml is still encrypted with SOPS: decrypt it first, \
                    e.g. sops exec-file service.yaml 'wine-config show --settings {}'";
    let metadata = "sops:\n    mac: ENC[AES256_GCM,data:AAAA,type:str]\n    version: 3.9.4\n";
    for text in [
        settings_yaml("https://models.example.org/wine", enc, enc) + metadata,
        settings_yaml("https://models.example.org/wine", PASSWORD, enc),
        settings_yaml("https://models.example.org/wine", PASSWORD, TOKEN)
            + "sops:\n    version: 3.9.4\n",
    ] {
        assert_eq!(failure(&text), expected, "{text}");
    }
}

#[test]
fn each_setting_problem_is_named_without_its_value() {
    let url = "https://models.example.org/wine";
    for (text, expected) in [
        (
            format!("db_password: {PASSWORD}\nregistry_token: {TOKEN}\n"),
            "service.yaml: model_registry is missing",
        ),
        (
            format!("model_registry: {url}\nregistry_token: {TOKEN}\n"),
            "service.yaml: db_password is missing",
        ),
        (
            settings_yaml(url, PASSWORD, "''"),
            "service.yaml: registry_token is empty",
        ),
        (
            settings_yaml(url, "", TOKEN),
            "service.yaml: db_password is empty",
        ),
        (
            settings_yaml(url, "123456", TOKEN),
            "service.yaml: db_password must be a string",
        ),
        (
            settings_yaml(url, PASSWORD, &format!("[{TOKEN}]")),
            "service.yaml: registry_token must be a string",
        ),
        (
            settings_yaml("ftp://models.example.org/wine", PASSWORD, TOKEN),
            "service.yaml: model_registry is not an http(s) URL",
        ),
        (
            settings_yaml(PASSWORD, PASSWORD, TOKEN),
            "service.yaml: model_registry is not an http(s) URL",
        ),
        (
            settings_yaml(
                &format!("https://ci:{TOKEN}@models.example.org/wine"),
                PASSWORD,
                TOKEN,
            ),
            "service.yaml: model_registry must not hold credentials (user:password@): \
             the token belongs in registry_token",
        ),
    ] {
        assert_eq!(failure(&text), expected, "{text}");
    }
}

#[test]
fn text_that_is_not_a_yaml_mapping_is_refused_without_quoting_it() {
    for (text, reason) in [
        (
            format!("{PASSWORD}\n"),
            "found a single string, not a mapping",
        ),
        (
            format!("db_password: \"{PASSWORD}\n"),
            "invalid YAML at line 2, column 1",
        ),
        (
            format!("db_password: {PASSWORD}\ndb_password: {PASSWORD}\n"),
            "invalid YAML at line 1, column 1",
        ),
        (String::new(), "it is empty"),
    ] {
        assert_eq!(
            failure(&text),
            format!("service.yaml is not a YAML mapping of settings ({reason})"),
            "{text}"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = TempDir::new().expect("tempdir");
    for args in [
        &[][..],
        &["show"][..],
        &["show", "--settings"][..],
        &["print", "--settings", "service.yaml"][..],
        &["show", "--settings", "a.yaml", "extra"][..],
    ] {
        wine_config(dir.path())
            .args(args)
            .assert()
            .code(2)
            .stdout("");
    }
    wine_config(dir.path())
        .args(["show", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("SETTINGS_FILE"));
}
