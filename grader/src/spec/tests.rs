use super::*;

fn parse(text: &str) -> Result<LabSpec, SpecError> {
    let snaps = BTreeMap::from([("s".to_string(), "---\n---\nstatus: 200\n".to_string())]);
    LabSpec::parse(text, "test.toml", snaps)
}

const HEAD: &str =
    "id = \"w\"\ntitle = \"T\"\nweek = 8\n[container]\nport = 8080\nready_path = \"/health\"\n";

#[test]
fn the_embedded_labs_parse_and_week08_is_worth_100() {
    for id in embedded_labs() {
        let lab = embedded_lab(id).expect("known").expect("valid");
        assert_eq!(lab.id, id);
    }
    let w8 = embedded_lab("week08").expect("known").expect("valid");
    assert_eq!(w8.max_points(), 100);
    assert!(w8.checks.iter().any(|c| c.visibility == Visibility::Hidden));
}

#[test]
fn errors_name_the_file_the_field_and_the_problem() {
    let cases = [
        (
            "[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 0\nkind = \"sigterm\"\nrequest = { method = \"POST\", path = \"/p\", json = {} }\n",
            "checks[0] (a): points must be above 0",
        ),
        (
            "[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"teleport\"\n",
            "unknown kind \"teleport\"",
        ),
        (
            "[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"sigterm\"\nrequest = { method = \"POST\", path = \"/p\", json = {} }\ngrace = 3\n",
            "unknown field `grace`",
        ),
        (
            "[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"sigterm\"\nrequest = { method = \"POST\", path = \"/p\", json = {} }\n[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"sigterm\"\nrequest = { method = \"POST\", path = \"/p\", json = {} }\n",
            "duplicate check id",
        ),
        (
            "[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"snapshot\"\nsnapshot = \"missing\"\nrequest = { path = \"/x\" }\n",
            "no file snapshots/missing.snap",
        ),
        (
            "[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"http\"\nrequest = { path = \"x\" }\nexpect = { status = 200 }\n",
            "must start with '/'",
        ),
        (
            "[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"image\"\nrule = \"max-size\"\n",
            "needs max_mb",
        ),
    ];
    for (checks, want) in cases {
        let err = parse(&format!("{HEAD}{checks}"))
            .expect_err("must be refused")
            .to_string();
        assert!(err.starts_with("test.toml: "), "{err}");
        assert!(err.contains(want), "expected «{want}» in «{err}»");
        assert!(!err.contains('\n'), "one line: {err}");
    }
}

#[test]
fn a_sigterm_request_needs_a_body_and_image_patterns_must_be_valid() {
    let err = parse(&format!(
        "{HEAD}[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"sigterm\"\nrequest = {{ path = \"/health\" }}\n"
    ))
    .expect_err("refused")
    .to_string();
    assert!(err.contains("needs a body"), "{err}");
    let ok = "[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"image\"\nrule = \"non-root\"\n";
    let err = parse(&format!("{HEAD}[build]\nimages = [\"\"]\n{ok}"))
        .expect_err("refused")
        .to_string();
    assert!(err.contains("build.images"), "{err}");
    let lab = parse(&format!("{HEAD}[build]\nimages = [\"python:*\"]\n{ok}")).expect("valid");
    assert_eq!(lab.build.images, vec!["python:*"]);
}

#[test]
fn a_wrong_week_and_a_missing_section_are_refused() {
    let err = parse("id = \"w\"\ntitle = \"T\"\nweek = 16\n[container]\nport = 1\nready_path = \"/\"\n[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"sigterm\"\nrequest = { method = \"POST\", path = \"/p\", json = {} }\n")
        .expect_err("refused")
        .to_string();
    assert!(err.contains("week: 16 is not a week"), "{err}");
    let err = parse("id = \"w\"\ntitle = \"T\"\nweek = 1\n")
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("checks: a lab needs at least one check"),
        "{err}"
    );
    // A service check needs the container's port.
    let err = parse("id = \"w\"\ntitle = \"T\"\nweek = 1\n[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"sigterm\"\nrequest = { method = \"POST\", path = \"/p\", json = {} }\n")
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("container.port: the lab has checks of a running service"),
        "{err}"
    );
}

/// A lab with no service: no `[container]` section at all.
const NO_SERVICE: &str = "id = \"w\"\ntitle = \"T\"\nweek = 2\n";

const WEEK1_TO_3: &str = r#"
[[checks]]
id = "train"
title = "train writes metrics"
points = 5
kind = "command"
args = ["train", "--out", "out"]
output_dir = "out"
files = { "in/config.toml" = "seed = 1\n" }
stdin = ""
env = { RUST_LOG = "warn" }
expect = { stdout = { contains = ["accuracy"], matches = "accuracy: 0\\.\\d+" }, stderr = { empty = true } }

[[checks]]
id = "bad-input"
title = "bad input"
points = 5
kind = "command"
args = ["predict", "--input", "nope.csv"]
expect = { bad_input = true, stderr = { contains = ["nope.csv"] } }

[[checks]]
id = "plan"
title = "plan snapshot"
points = 5
kind = "command"
args = ["reconcile", "--dry-run"]
expect = { snapshot = "s", redact = ["/revision"], filters = [["\\d+ ms", "[ms]"]] }

[[checks]]
id = "metrics"
title = "accuracy"
points = 5
kind = "file"
rule = "json"
from = "train"
path = "metrics.json"
pointer = "/accuracy"
min = 0.55

[[checks]]
id = "same"
title = "deterministic"
points = 5
kind = "file"
rule = "deterministic"
from = "train"
paths = ["metrics.json", "model.bin"]

[[checks]]
id = "design"
title = "design doc"
points = 5
kind = "file"
rule = "markdown-sections"
path = "DESIGN.md"
sections = ["Problem", "Data", "Metric", "Serving constraints", "Risks"]
min_words = 30

[[checks]]
id = "secrets"
title = "no secrets"
points = 5
kind = "file"
rule = "secret-scan"

[[checks]]
id = "commits"
title = "conventional commits"
points = 5
kind = "repository"
rule = "conventional-commits"
min_percent = 80

[[checks]]
id = "tag"
title = "tag"
points = 5
kind = "repository"
rule = "version-tag"

[[checks]]
id = "absent"
title = "no build output"
points = 5
kind = "repository"
rule = "absent-paths"
globs = ["target/**", "*.onnx"]

[[checks]]
id = "size"
title = "small files"
points = 5
kind = "repository"
rule = "max-file-size"
max_kb = 512

[[checks]]
id = "ignores"
title = "ignores"
points = 5
kind = "repository"
rule = "ignores"
paths = ["target/", "model.onnx"]
"#;

#[test]
fn command_file_and_repository_checks_parse_without_a_service() {
    let lab = parse(&format!("{NO_SERVICE}{WEEK1_TO_3}")).expect("valid");
    assert!(!lab.has_service());
    assert!(lab.needs_image());
    assert_eq!(lab.container.port, 0);
    let before_service = |c: &CheckSpec| c.kind.phase() < Phase::Service;
    assert!(lab.checks.iter().all(before_service));
    let CheckKind::Command(train) = &lab.checks[0].kind else {
        panic!("a command")
    };
    assert_eq!(train.output_dir.as_deref(), Some("out"));
    assert_eq!(train.expect.code(), 0);
    let CheckKind::Command(bad) = &lab.checks[1].kind else {
        panic!("a command")
    };
    assert_eq!(bad.expect.code(), 2);
    assert!(matches!(
        lab.checks[10].kind,
        CheckKind::Repository(RepoRule::MaxFileSize { max_kb: 512 })
    ));
    // Repository and tree checks alone need no image: nothing is built.
    let repo_only = parse(&format!(
        "{NO_SERVICE}[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"repository\"\nrule = \"version-tag\"\n"
    ))
    .expect("valid");
    assert!(!repo_only.needs_image() && !repo_only.has_service());
    // The week-8 lab has a service, and all of it is judged from the build on.
    let w8 = embedded_lab("week08").expect("known").expect("valid");
    assert!(w8.has_service() && w8.checks.iter().all(|c| c.kind.phase() >= Phase::Build));
}

#[test]
fn command_file_and_repository_mistakes_are_named_in_one_line() {
    let check = |kind: &str, fields: &str| {
        format!("[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"{kind}\"\n{fields}\n")
    };
    let cmd =
        "[[checks]]\nid = \"run\"\ntitle = \"t\"\npoints = 1\nkind = \"command\"\nargs = [\"x\"]\n";
    let cases = [
        (
            check("command", "args = [\"x\"]\nexpect = { code = 300 }"),
            "checks[0] (a): expect.code 300 is not an exit code",
        ),
        (
            check(
                "command",
                "steps = [{ args = [\"unseal\"], course_key = true }]",
            ),
            "steps[0]: course_key is for a judge's step; the submission never sees the course identity",
        ),
        (
            check("command", "expect = { bad_input = true, code = 1 }"),
            "bad_input means exit code 2",
        ),
        (
            check(
                "command",
                "expect = { stdout = { matches = \"(unclosed\" } }",
            ),
            "expect.stdout.matches:",
        ),
        (
            check(
                "command",
                "expect = { stderr = { empty = true, contains = [\"x\"] } }",
            ),
            "empty cannot go with",
        ),
        (
            check("command", "files = { \"../etc/passwd\" = \"x\" }"),
            "files: \"../etc/passwd\" must be a relative path",
        ),
        (
            check("command", "output_dir = \"/out\""),
            "output_dir: \"/out\" must be a relative path",
        ),
        (
            check("command", "expect = { snapshot = \"missing\" }"),
            "no file snapshots/missing.snap",
        ),
        (
            check("command", "expect = { redact = [\"/x\"] }"),
            "give snapshot",
        ),
        (
            check("command", "arguments = [\"x\"]"),
            "unknown field `arguments`",
        ),
        (
            check("command", "args = [\"x\"]\nservice = true"),
            "container.port: the lab has checks of a running service",
        ),
        (
            format!(
                "[container]\nport = 8080\n{}{}",
                cmd.replace(
                    "args = [\"x\"]\n",
                    "args = [\"x\"]\nservice = true\noutput_dir = \"out\"\n"
                ),
                check(
                    "file",
                    "rule = \"deterministic\"\nfrom = \"run\"\npaths = [\"m.json\"]"
                )
            ),
            "from: \"run\" runs beside the service, and this rule runs commands again",
        ),
        (
            check("file", "path = \"m.json\""),
            "kind \"file\" needs a rule",
        ),
        (
            check("file", "rule = \"yaml\""),
            "unknown file rule \"yaml\"",
        ),
        (
            format!(
                "{cmd}output_dir = \"out\"\n{}",
                check(
                    "file",
                    "rule = \"differs\"\nfrom = \"run\"\nargs = []\npaths = [\"m.json\"]"
                )
            ),
            "args: give the arguments of the run to compare with",
        ),
        (
            check(
                "file",
                "rule = \"differs\"\nfrom = \"nope\"\nargs = [\"x\"]\npaths = [\"m.json\"]",
            ),
            "from: \"nope\" is not a command check of this lab",
        ),
        (
            check(
                "file",
                "rule = \"json\"\npath = \"m.json\"\npointer = \"/a\"",
            ),
            "needs equals, contains, or min, max or both",
        ),
        (
            check(
                "file",
                "rule = \"json\"\npath = \"m.json\"\npointer = \"/a\"\nequals = 1\ncontains = [\"x\"]",
            ),
            "give one of equals, contains, or min and max",
        ),
        (
            check(
                "file",
                "rule = \"json\"\npath = \"m.json\"\npointer = \"/a\"\ncontains = [\"\"]",
            ),
            "an empty text would always be found",
        ),
        (
            check(
                "file",
                "rule = \"json\"\npath = \"m.json\"\npointer = \"a\"\nmin = 1.0",
            ),
            "is not a JSON pointer",
        ),
        (
            check(
                "file",
                "rule = \"json\"\npath = \"m.json\"\npointer = \"/a\"\nmin = 2.0\nmax = 1.0",
            ),
            "min 2 is above max 1",
        ),
        (
            check(
                "file",
                "rule = \"json\"\nfrom = \"nope\"\npath = \"m.json\"\npointer = \"/a\"\nmin = 1.0",
            ),
            "from: \"nope\" is not a command check",
        ),
        (
            format!(
                "{cmd}{}",
                check(
                    "file",
                    "rule = \"deterministic\"\nfrom = \"run\"\npaths = [\"m.json\"]"
                )
            ),
            "has no output_dir",
        ),
        (
            check(
                "file",
                "rule = \"markdown-sections\"\npath = \"DESIGN.md\"\nsections = []",
            ),
            "sections: name at least one",
        ),
        (
            check("file", "rule = \"json-lines\"\npath = \"runs.jsonl\""),
            "needs records, fields, covers or best",
        ),
        (
            check(
                "file",
                "rule = \"json-lines\"\npath = \"runs.jsonl\"\nfields = [\"seed\"]",
            ),
            "fields: \"seed\" is not a JSON pointer",
        ),
        (
            check(
                "file",
                "rule = \"json-lines\"\npath = \"runs.jsonl\"\nbest = { by = \"/m\", goal = \"highest\", key = \"/run\", chosen = \"best.json\", at = \"/run\" }",
            ),
            "unknown variant `highest`",
        ),
        (
            check("file", "rule = \"secret-scan\"\npath = \"x\""),
            "kind \"file\", rule \"secret-scan\": unknown field `path`",
        ),
        (
            check(
                "repository",
                "rule = \"conventional-commits\"\nmin_percent = 0",
            ),
            "min_percent must be from 1 to 100",
        ),
        (
            check("repository", "rule = \"absent-paths\"\nglobs = [\"a[\"]"),
            "globs: \"a[\"",
        ),
        (
            check("repository", "rule = \"max-file-size\"\nmax_kb = 0"),
            "max_kb must be above 0",
        ),
        (
            check("repository", "rule = \"ignores\"\npaths = []"),
            "paths: give at least one",
        ),
        (
            check("repository", "rule = \"signed-tags\""),
            "unknown repository rule \"signed-tags\"",
        ),
        (
            check(
                "command",
                "args = [\"x\"]\nexpect = { stderr = { excludes = [\"\"] } }",
            ),
            "expect.stderr.excludes: an empty string is in every output",
        ),
        (
            check(
                "command",
                "args = [\"x\"]\nexpect = { predictions = { pointer = \"p\", labels = [5], min_accuracy = 0.5 } }",
            ),
            "expect.predictions.pointer: \"p\" is not a JSON pointer",
        ),
        (
            check(
                "command",
                "args = [\"x\"]\nexpect = { predictions = { pointer = \"/p\", labels = [], min_accuracy = 0.5 } }",
            ),
            "expect.predictions.labels: give the label of each input row",
        ),
        (
            check(
                "command",
                "args = [\"x\"]\nexpect = { predictions = { pointer = \"/p\", labels = [5], min_accuracy = 1.5 } }",
            ),
            "min_accuracy: 1.5 is not a share above 0 and at most 1",
        ),
        (
            check(
                "command",
                "args = [\"x\"]\nexpect = { metrics = { predictions_from = \"run\" } }",
            ),
            "expect.metrics: give accuracy, mae or both",
        ),
        (
            format!(
                "{cmd}{}",
                check(
                    "command",
                    "args = [\"x\"]\nexpect = { metrics = { predictions_from = \"run\", mae = \"/mae\" } }",
                )
            ),
            "checks[1] (a): expect.metrics.predictions_from: \"run\" is not another command check with expect.predictions",
        ),
    ];
    for (checks, want) in cases {
        let err = parse(&format!("{NO_SERVICE}{checks}"))
            .expect_err("must be refused")
            .to_string();
        assert!(err.starts_with("test.toml: "), "{err}");
        assert!(err.contains(want), "expected «{want}» in «{err}»");
        assert!(!err.contains('\n'), "one line: {err}");
    }
}

/// A lab judged by a real tool: commands of judge steps over the tree.
const JUDGED: &str = r#"
[judges]
dotdrop = "mlops-judge/dotdrop:1.12.9"

[[checks]]
id = "laptop"
title = "the laptop profile installs"
points = 10
kind = "command"
inputs = ["tree"]
env = { HOME = "/work/home" }
output_dir = "home"
steps = [
  { image = "judge:dotdrop", args = ["dotdrop", "install", "-c", "tree/config.yaml", "-p", "laptop", "-f"] },
  { image = "judge:dotdrop", args = ["dotdrop", "compare", "-c", "tree/config.yaml", "-p", "laptop"] },
]

[[checks]]
id = "identity"
title = "the identity is rendered"
points = 5
kind = "file"
rule = "json"
from = "laptop"
path = "id.json"
pointer = "/n"
min = 1
"#;

#[test]
fn a_lab_of_judges_needs_no_image_and_names_its_judges() {
    let lab = parse(&format!("{NO_SERVICE}{JUDGED}")).expect("valid");
    assert!(!lab.needs_image() && !lab.has_service());
    assert_eq!(lab.judges["dotdrop"], "mlops-judge/dotdrop:1.12.9");
    let CheckKind::Command(spec) = &lab.checks[0].kind else {
        panic!("a command")
    };
    assert_eq!(spec.inputs, vec![Input::Tree]);
    assert_eq!(spec.steps.len(), 2);
    assert_eq!(spec.steps[0].judge(), Some("dotdrop"));
    // A step of the submission's own program needs its image again.
    let mixed = JUDGED.replace(
        "{ image = \"judge:dotdrop\", args = [\"dotdrop\", \"compare\"",
        "{ image = \"submission\", args = [\"dotdrop\", \"compare\"",
    );
    assert!(
        parse(&format!("{NO_SERVICE}{mixed}"))
            .expect("valid")
            .needs_image()
    );
}

#[test]
fn steps_name_known_judges_and_carry_their_own_command_lines() {
    let cases = [
        (JUDGED.replace("judge:dotdrop\", args = [\"dotdrop\", \"install\"", "judge:dotdrap\", args = [\"dotdrop\", \"install\""), "no judge \"dotdrap\" under [judges] (known: dotdrop)"),
        (JUDGED.replace("kind = \"command\"\n", "kind = \"command\"\nargs = [\"x\"]\n"), "args go in each step"),
        (JUDGED.replace("{ image = \"judge:dotdrop\", args = [\"dotdrop\", \"compare\", \"-c\", \"tree/config.yaml\", \"-p\", \"laptop\"] }", "{ image = \"judge:dotdrop\" }"), "needs its command line"),
        (JUDGED.replace("image = \"judge:dotdrop\", args = [\"dotdrop\", \"compare\"", "image = \"alpine\", args = [\"dotdrop\", \"compare\""), "neither \"submission\" nor \"judge:NAME\""),
        (JUDGED.replace("inputs = [\"tree\"]", "inputs = [\"home\"]"), "unknown variant `home`"),
    ];
    for (checks, want) in cases {
        let err = parse(&format!("{NO_SERVICE}{checks}"))
            .expect_err("must be refused")
            .to_string();
        assert!(err.contains(want), "expected «{want}» in «{err}»");
    }
}

#[test]
fn week_8s_data_hash_is_the_hash_of_the_labs_data() {
    // Week 1's definition: every number of every row (features, then quality)
    // as a little-endian f64, in row order.
    use sha2::{Digest, Sha256};
    let csv = include_str!("../../labs/data/winequality-red.csv");
    let mut hasher = Sha256::new();
    for line in csv.lines().skip(1) {
        for value in line.split(',') {
            let x: f64 = value.parse().expect("a number");
            hasher.update(x.to_le_bytes());
        }
    }
    let hash = format!("{:x}", hasher.finalize());
    let lab = embedded_lab("week08").expect("known").expect("valid");
    let version = lab
        .checks
        .iter()
        .find(|c| c.id == "version")
        .expect("a version check");
    let CheckKind::Http { expect, .. } = &version.kind else {
        panic!("an http check")
    };
    assert_eq!(
        expect.at.get("/data_sha256"),
        Some(&serde_json::json!(hash))
    );
}

#[test]
fn the_labs_rows_are_the_wines_the_solutions_train_on() {
    // Week 8's rows are a CSV in grader/labs/data; the solutions read the same
    // wines from linfa-datasets. Row for row, value for value, they agree, so a
    // correct service's accuracy is the same whichever the grader reads.
    let lab = embedded_lab("week08").expect("known").expect("valid");
    let rows = lab.rows.as_ref().expect("week 8 declares [rows]");
    let wines = linfa_datasets::winequality();
    assert_eq!(rows.len(), wines.records().nrows());
    // The columns in the data set's order, as the CSV's header names them.
    let csv = include_str!("../../labs/data/winequality-red.csv");
    let header: Vec<&str> = csv.lines().next().unwrap_or_default().split(',').collect();
    let names = &header[..11];
    assert_eq!(header[11], "quality");
    for (i, record) in wines.records().rows().into_iter().enumerate() {
        let body = rows.body(&[i]);
        let sent = &body["inputs"][0];
        assert_eq!(sent.as_object().map(|o| o.len()), Some(11), "row {i}");
        for (name, value) in names.iter().zip(record.iter()) {
            assert_eq!(sent[*name].as_f64(), Some(*value), "row {i}, {name}");
        }
        assert_eq!(
            rows.label(i).as_f64(),
            Some(wines.targets()[i] as f64),
            "row {i}"
        );
    }
}

#[test]
fn a_command_beside_the_service_is_judged_in_the_service_phase() {
    let lab = parse(
        "id = \"w\"\ntitle = \"T\"\nweek = 9\n[container]\nport = 8080\n[judges]\nj = \"mlops-judge/j:1\"\n[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"command\"\nservice = true\nsteps = [{ image = \"judge:j\", args = [\"true\"] }]\n",
    )
    .expect("valid");
    let check = &lab.checks[0];
    assert_eq!(check.kind.phase(), Phase::Service);
    // It needs the service, so the image the service runs from.
    assert!(lab.has_service() && lab.needs_image());
}

#[test]
fn week_8_sends_a_body_just_over_the_limit() {
    // A limit a little above 1 MiB must not pass: one request of the
    // body-limit check is over 1 MiB by less than 64 KiB.
    let lab = embedded_lab("week08").expect("known").expect("valid");
    let rows = lab.rows.as_ref().expect("rows");
    let check = lab
        .checks
        .iter()
        .find(|c| c.id == "validation.body-limit")
        .expect("the body-limit check");
    let sizes: Vec<usize> = check
        .kind
        .requests()
        .iter()
        .filter_map(|r| r.rows)
        .map(|n| rows.body(&first_rows(n)).to_string().len())
        .collect();
    let mib = 1 << 20;
    assert!(
        sizes.iter().any(|s| *s > mib && *s < mib + (64 << 10)),
        "{sizes:?}"
    );
}

#[test]
fn a_rows_file_that_cannot_be_read_or_parsed_is_one_line_naming_it() {
    let text = "id = \"w\"\ntitle = \"T\"\nweek = 8\n[rows]\nfile = \"../data/x.csv\"\nlabel = \"y\"\n[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"repository\"\nrule = \"version-tag\"\n";
    let missing = LabSpec::parse_with_data(text, "lab.toml", BTreeMap::new(), &|name| {
        Err(format!("cannot read {name}: no such file"))
    })
    .expect_err("no file")
    .to_string();
    assert_eq!(
        missing,
        "lab.toml: rows.file: cannot read ../data/x.csv: no such file"
    );
    let no_label = LabSpec::parse_with_data(text, "lab.toml", BTreeMap::new(), &|_| {
        Ok("a,b\n1,2\n".to_string())
    })
    .expect_err("no label column")
    .to_string();
    assert_eq!(
        no_label,
        "lab.toml: rows: ../data/x.csv: no column \"y\" (the label)"
    );
    // Without [rows], a request of rows is refused, naming the table.
    let asks = "id = \"w\"\ntitle = \"T\"\nweek = 8\n[container]\nport = 8080\n[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"http\"\nrequest = { method = \"POST\", path = \"/p\", rows = 3 }\nexpect = { status = 200 }\n";
    let err = parse(asks).expect_err("no rows").to_string();
    assert!(
        err.contains("request.rows needs the lab's [rows] table"),
        "{err}"
    );
}

const LAMBDA: &str = "id = \"f\"\ntitle = \"T\"\nweek = 13\n[container]\nready_fake = \"runtime\"\n[fakes.runtime]\nkind = \"lambda\"\nport = 9001\n";
const INVOKE: &str = "[[checks]]\nid = \"i\"\ntitle = \"t\"\npoints = 1\nkind = \"invoke\"\nfake = \"runtime\"\nevent = { inputs = [1] }\n";

#[test]
fn a_file_check_of_a_command_beside_the_service_is_judged_beside_it() {
    let lab = format!(
        "{LAMBDA}[[checks]]\nid = \"run\"\ntitle = \"t\"\npoints = 1\nkind = \"command\"\nservice = true\nargs = [\"x\"]\noutput_dir = \"out\"\n[[checks]]\nid = \"read\"\ntitle = \"t\"\npoints = 1\nkind = \"file\"\nrule = \"json\"\nfrom = \"run\"\npath = \"out/m.json\"\npointer = \"/a\"\nequals = 1\n"
    );
    let lab = parse(&lab).expect("valid");
    let CheckKind::File(rule) = &lab.checks[1].kind else {
        panic!("a file check")
    };
    assert!(rule.beside());
    assert_eq!(rule.command(), Some("run"));
    assert_eq!(lab.checks[1].kind.phase(), Phase::Service);
}

#[test]
fn a_lab_of_fakes_parses_with_their_checks_in_their_phases() {
    let transcript = "[[checks]]\nid = \"n\"\ntitle = \"t\"\npoints = 1\nkind = \"file\"\nrule = \"json\"\nfrom = \"fake:runtime\"\npath = \"transcript.json\"\npointer = \"/count\"\nequals = 1\n";
    let lab = parse(&format!("{LAMBDA}{INVOKE}{transcript}")).expect("valid");
    assert_eq!(lab.container.port, 0, "a function needs no port");
    assert_eq!(lab.checks[0].kind.phase(), Phase::Service);
    assert_eq!(lab.checks[1].kind.phase(), Phase::Final);
    assert!(lab.has_service() && lab.needs_image());
    let env = lab.fakes["runtime"].env("f", 256);
    assert!(env.contains(&("AWS_LAMBDA_RUNTIME_API".into(), "127.0.0.1:9001".into())));
    let llm = parse(
        &format!("{HEAD}[fakes.llm]\nkind = \"openai\"\nport = 8081\n{INVOKE}")
            .replace("fake = \"runtime\"", "fake = \"llm\""),
    );
    assert!(
        llm.expect_err("an invoke of an openai fake")
            .to_string()
            .contains("\"llm\" is not a fake of kind \"lambda\"")
    );
}

#[test]
fn an_accuracy_check_sends_its_rows_over_http_or_as_an_invocation() {
    let rows = "[rows]\nfile = \"../data/w.csv\"\nlabel = \"q\"\n";
    let check = "[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"accuracy\"\nanswer = \"/predictions\"\nsample = 2\nseed = 1\nmin_accuracy = 0.5\n";
    let data = |_: &str| Ok("x,q\n1,5\n2,6\n".to_string());
    let text = format!("{LAMBDA}{rows}{check}fake = \"runtime\"\n");
    let lab = LabSpec::parse_with_data(&text, "lab.toml", BTreeMap::new(), &data).expect("valid");
    assert!(matches!(
        &lab.checks[0].kind,
        CheckKind::Accuracy { via: crate::spec::Via::Invoke(f), .. } if f == "runtime"
    ));
    assert!(lab.checks[0].kind.requests().is_empty());
    let both = format!(
        "{LAMBDA}{rows}{check}fake = \"runtime\"\nrequest = {{ method = \"POST\", path = \"/p\" }}\n"
    );
    let err = LabSpec::parse_with_data(&both, "lab.toml", BTreeMap::new(), &data)
        .expect_err("both")
        .to_string();
    assert!(
        err.contains("`request`") && err.contains("exactly one"),
        "{err}"
    );
    let neither = format!("{LAMBDA}{rows}{check}");
    assert!(LabSpec::parse_with_data(&neither, "lab.toml", BTreeMap::new(), &data).is_err());
    let wrong =
        format!("{HEAD}[fakes.llm]\nkind = \"openai\"\nport = 8081\n{rows}{check}fake = \"llm\"\n");
    let err = LabSpec::parse_with_data(&wrong, "lab.toml", BTreeMap::new(), &data)
        .expect_err("not a lambda")
        .to_string();
    assert!(
        err.contains("\"llm\" is not a fake of kind \"lambda\""),
        "{err}"
    );
}

#[test]
fn bad_fakes_are_one_line_naming_the_field() {
    let cases = [
        (
            format!("{LAMBDA}port2 = 1\n{INVOKE}"),
            "unknown field `port2`",
        ),
        (
            format!("{LAMBDA}[fakes.llm]\nkind = \"openai\"\nport = 9001\n{INVOKE}"),
            "fakes.runtime.port: 9001 is fake \"llm\"'s port too",
        ),
        (
            format!("{LAMBDA}[fakes.x]\nkind = \"smtp\"\nport = 25\n{INVOKE}"),
            "unknown variant `smtp`",
        ),
        (
            format!("{HEAD}[fakes.Big]\nkind = \"lambda\"\nport = 9001\n{INVOKE}"),
            "fakes.Big: a fake's name is lowercase",
        ),
        (
            format!("{HEAD}[fakes.llm]\nkind = \"openai\"\nport = 8080\n{INVOKE}"),
            "fakes.llm.port: must be a port from 1 to 65535 other than the service's",
        ),
        (
            format!(
                "{HEAD}[fakes.llm]\nkind = \"openai\"\nport = 8081\nrate_limit = [0]\n{INVOKE}"
            ),
            "calls are counted from 1",
        ),
        (
            LAMBDA.replace("ready_fake = \"runtime\"", "ready_fake = \"nope\"") + INVOKE,
            "container.ready_fake: \"nope\" is not a fake",
        ),
        (
            format!("{LAMBDA}{}expect = {{ status = 200 }}\n", INVOKE),
            "an invocation has no status",
        ),
        (
            format!(
                "{LAMBDA}[[checks]]\nid = \"n\"\ntitle = \"t\"\npoints = 1\nkind = \"file\"\nrule = \"json\"\nfrom = \"fake:other\"\npath = \"transcript.json\"\npointer = \"/count\"\nequals = 1\n"
            ),
            "\"fake:other\" names no fake",
        ),
        (
            format!(
                "{LAMBDA}[[checks]]\nid = \"n\"\ntitle = \"t\"\npoints = 1\nkind = \"file\"\nrule = \"json\"\nfrom = \"fake:runtime\"\npath = \"calls.json\"\npointer = \"/count\"\nequals = 1\n"
            ),
            "keeps one file, transcript.json",
        ),
        (
            format!(
                "{LAMBDA}[[checks]]\nid = \"n\"\ntitle = \"t\"\npoints = 1\nkind = \"file\"\nrule = \"json\"\nfrom = \"fake:runtime\"\npath = \"transcript.json\"\npointer = \"/count\"\nequals = 1\nmin = 1\n"
            ),
            "give one of equals, contains, or min and max",
        ),
    ];
    for (text, want) in cases {
        let err = parse(&text).expect_err(want).to_string();
        assert!(err.contains(want), "{err}\nwanted: {want}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
}

#[test]
fn an_http_checks_cases_are_validated_each_and_count_as_its_requests() {
    let check = |case: &str| {
        format!(
            "{HEAD}[[checks]]\nid = \"r\"\ntitle = \"t\"\npoints = 1\nkind = \"http\"\nrequest = {{ path = \"/p\" }}\nexpect = {{ status = 422 }}\ncases = [{case}]\n"
        )
    };
    let lab = parse(&check(
        "{ request = { method = \"POST\", path = \"/q\", json = {} }, expect = { status = 422, at = { \"/field\" = \"x\" } } }",
    ))
    .expect("valid");
    assert_eq!(lab.checks[0].kind.requests().len(), 2);
    let err = parse(&check(
        "{ request = { path = \"/q\" }, expect = { status = 99 } }",
    ))
    .expect_err("a bad status")
    .to_string();
    assert!(
        err.contains("checks[0] (r): expect.status 99 is not an HTTP status"),
        "{err}"
    );
    let err = parse(&check(
        "{ request = { path = \"q\" }, expect = { status = 422 } }",
    ))
    .expect_err("a bad path")
    .to_string();
    assert!(err.contains("must start with '/'"), "{err}");
}

const STARTUP: &str = "[[checks]]\nid = \"s\"\ntitle = \"t\"\npoints = 1\nkind = \"startup\"\nrule = \"not-ready-while-loading\"\nmin_secs = 2\n";
const DRAIN: &str = "[[checks]]\nid = \"d\"\ntitle = \"t\"\npoints = 1\nkind = \"drain\"\nrequest = { path = \"/version\" }\n";
const METRICS: &str = "[[checks]]\nid = \"m\"\ntitle = \"t\"\npoints = 1\nkind = \"metrics\"\ntraffic = [{ request = { path = \"/health\" }, times = 2 }]\nexpect = [{ sample = \"x_total\", increase = 2 }]\n";

#[test]
fn startup_drain_and_metrics_checks_are_refused_where_they_cannot_be_judged() {
    let cases = [
        (format!("{LAMBDA}{STARTUP}"), "ready_fake"),
        (format!("{HEAD}{DRAIN}"), "needs exactly one"),
        (
            format!(
                "{HEAD}{}",
                STARTUP.replace("min_secs = 2", "min_secs = 2\npath = \"/live\"")
            ),
            "leave path out",
        ),
        (
            format!(
                "{HEAD}{}",
                STARTUP.replace("not-ready-while-loading", "ready-eventually")
            ),
            "unknown startup rule",
        ),
        (
            format!("{HEAD}{}", METRICS.replace(", increase = 2", "")),
            "needs increase, above or below",
        ),
        (
            format!(
                "{HEAD}{}",
                METRICS.replace("times = 2 }", "times = 2, shift = { alcohol = 3.0 } }")
            ),
            "traffic.sample",
        ),
    ];
    for (text, want) in cases {
        let err = parse(&text).expect_err("must be refused").to_string();
        assert!(err.contains(want), "expected «{want}» in «{err}»");
    }
    assert!(parse(&format!("{HEAD}{STARTUP}{METRICS}")).is_ok());
}

#[test]
fn an_sse_expectation_names_its_event_and_pointer() {
    use super::{Expect, SseExpect, SseJoin};
    let with = |sse: SseExpect| Expect {
        sse: Some(sse),
        ..Default::default()
    };
    let bare = with(SseExpect {
        at: [("turns".to_string(), serde_json::json!(2))].into(),
        ..Default::default()
    });
    let err = bare.validate().expect_err("no event name");
    assert!(err.contains("an event's name and a JSON pointer"), "{err}");
    let join = with(SseExpect {
        join: Some(SseJoin {
            event: "token".into(),
            pointer: "text".into(),
            equals: "x".into(),
        }),
        ..Default::default()
    });
    let err = join.validate().expect_err("not a pointer");
    assert!(err.contains("is not a JSON pointer"), "{err}");
    let good = with(SseExpect {
        at: [("done/turns".to_string(), serde_json::json!(2))].into(),
        ..Default::default()
    });
    good.validate().expect("a good expectation");
}

// ---- [[compose]]: a lab made of other labs' checks ----

const COMPOSER: &str = "id = \"final\"\ntitle = \"T\"\nweek = 15\n[container]\nport = 8080\nmemory_mb = 512\nrun_timeout_secs = 300\nenv = { RUST_LOG = \"info\" }\n";

fn composed(blocks: &str) -> Result<LabSpec, SpecError> {
    LabSpec::parse(
        &format!("{COMPOSER}{blocks}"),
        "final.toml",
        BTreeMap::new(),
    )
}

#[test]
fn composed_checks_keep_their_kind_gain_their_labs_prefix_and_come_first() {
    let lab = composed(
        "[[compose]]\nlab = \"week08\"\nchecks = [\"health\", \"version\"]\n\
         [[compose]]\nlab = \"week09\"\nchecks = [\"manifests.valid\"]\n\
         [[checks]]\nid = \"own\"\ntitle = \"t\"\npoints = 1\nkind = \"repository\"\nrule = \"max-file-size\"\nmax_kb = 10\n",
    )
    .expect("valid");
    let ids: Vec<&str> = lab.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "week08.health",
            "week08.version",
            "week09.manifests.valid",
            "own"
        ]
    );
    let week08 = embedded_lab("week08").expect("known").expect("valid");
    let health = week08
        .checks
        .iter()
        .find(|c| c.id == "health")
        .expect("health");
    assert_eq!(lab.checks[0].title, health.title);
    assert_eq!(lab.checks[0].points, health.points);
    // What the checks need came with them: week 8's rows, week 9's judge
    // and warm-up settings (this lab's own RUST_LOG kept).
    assert!(lab.rows.is_some());
    assert_eq!(
        lab.judges.get("kubernetes").map(String::as_str),
        Some("mlops-judge/kubernetes:1.37.0")
    );
    assert_eq!(
        lab.container.env.get("WARMUP_SECS").map(String::as_str),
        Some("5")
    );
    assert_eq!(
        lab.container.env.get("RUST_LOG").map(String::as_str),
        Some("info")
    );
}

#[test]
fn a_blocks_points_are_rescaled_to_its_total_by_largest_remainders() {
    // week 4: ten checks worth 10,10,10,10,10,10,15,5,5,15 (100) shared as 33:
    // exact shares 3.3 x6, 4.95, 1.65, 1.65, 4.95, whole parts 28; the five
    // points left go to the largest remainders (the 4.95s, the 1.65s, then
    // the first 3.3).
    let lab = composed("[[compose]]\nlab = \"week04\"\npoints = 33\n").expect("valid");
    let points: Vec<u32> = lab.checks.iter().map(|c| c.points).collect();
    assert_eq!(points, [4, 3, 3, 3, 3, 3, 5, 2, 2, 5]);
    assert_eq!(lab.max_points(), 33);
    let err = composed("[[compose]]\nlab = \"week04\"\npoints = 5\n").expect_err("too few");
    assert!(
        err.to_string()
            .contains("compose[0] (week04).points: 5 is too few for 10 checks"),
        "{err}"
    );
}

#[test]
fn a_composition_that_cannot_hold_is_refused_in_one_line_naming_the_block() {
    let cases = [
        (
            "[[compose]]\nlab = \"week99\"\n",
            "compose[0] (week99).lab: is not a lab this grader carries",
        ),
        (
            "[[compose]]\nlab = \"week08\"\nchecks = [\"helth\"]\n",
            "compose[0] (week08).checks: \"helth\" is not a check of week08 (it has: image.non-root,",
        ),
        (
            "[[compose]]\nlab = \"week08\"\nchecks = [\"health\"]\nexcept = [\"version\"]\n",
            "give checks or except, not both",
        ),
        (
            "[[compose]]\nlab = \"week12\"\nchecks = [\"validate.reasons\"]\n",
            "\"validate.reasons\" reads what \"validate.damaged\" makes: take \"validate.damaged\" too",
        ),
        (
            "[[compose]]\nlab = \"week08\"\nchecks = [\"health\"]\n[[compose]]\nlab = \"week08\"\nchecks = [\"health\"]\n",
            "checks[1] (week08.health): duplicate check id",
        ),
    ];
    for (blocks, want) in cases {
        let err = composed(blocks).expect_err(blocks).to_string();
        assert!(err.contains(want), "{blocks}\n{err}");
        assert!(!err.contains('\n'), "{err}");
    }
    // The container must be the one the composed checks were written for.
    let other_port = COMPOSER.replace("port = 8080", "port = 9000");
    let err = LabSpec::parse(
        &format!("{other_port}[[compose]]\nlab = \"week08\"\n"),
        "f",
        BTreeMap::new(),
    )
    .expect_err("port")
    .to_string();
    assert!(err.contains("container.port differs"), "{err}");
    let small = COMPOSER.replace("memory_mb = 512", "memory_mb = 256");
    let err = LabSpec::parse(
        &format!("{small}[[compose]]\nlab = \"week10\"\n"),
        "f",
        BTreeMap::new(),
    )
    .expect_err("memory")
    .to_string();
    assert!(
        err.contains("written for container.memory_mb = 512; this lab gives 256"),
        "{err}"
    );
    // Two labs that disagree on a variable this lab leaves unset.
    let unset = COMPOSER.replace("env = { RUST_LOG = \"info\" }\n", "");
    let err = LabSpec::parse(
        &format!("{unset}[[compose]]\nlab = \"week08\"\n[[compose]]\nlab = \"week11\"\nexcept = [\"shutdown.sigterm\", \"readme\"]\n"),
        "f",
        BTreeMap::new(),
    )
    .expect_err("env")
    .to_string();
    assert!(
        err.contains("container.env.RUST_LOG: week08 sets \"info\" and week11 sets \"warn\": set it under [container] env"),
        "{err}"
    );
}

#[test]
fn file_rules_read_their_own_labs_renamed_command() {
    let lab = composed("[[compose]]\nlab = \"week12\"\n").expect("valid");
    let reads: Vec<&str> = lab
        .checks
        .iter()
        .filter_map(|c| match &c.kind {
            CheckKind::File(rule) => rule.command(),
            _ => None,
        })
        .collect();
    assert!(!reads.is_empty());
    assert!(
        reads.iter().all(|id| id.starts_with("week12.")),
        "{reads:?}"
    );
}

#[test]
fn a_lab_that_composes_cannot_be_composed() {
    let loader = |id: &str| {
        (id == "inner").then(|| {
            LabSpec::parse_inner(
                "id = \"inner\"\ntitle = \"T\"\nweek = 15\n[[compose]]\nlab = \"week10\"\n",
                "inner.toml",
                BTreeMap::new(),
                &|_| Err("none".into()),
                None,
            )
        })
    };
    let err = LabSpec::parse_inner(
        &format!("{COMPOSER}[[compose]]\nlab = \"inner\"\n"),
        "final.toml",
        BTreeMap::new(),
        &|_| Err("none".into()),
        Some(&loader),
    )
    .expect_err("nested")
    .to_string();
    assert!(
        err.contains("compose[0] (inner).lab: composes other labs itself"),
        "{err}"
    );
}

#[test]
fn two_labs_with_a_judge_of_one_name_and_two_images_are_refused() {
    let lab = |id: &str, image: &str| {
        format!(
            "id = \"{id}\"\ntitle = \"T\"\nweek = 9\n[judges]\ntool = \"{image}\"\n[[checks]]\nid = \"run\"\ntitle = \"t\"\npoints = 1\nkind = \"command\"\nsteps = [{{ image = \"judge:tool\", args = [\"true\"] }}]\n"
        )
    };
    let (a, b) = (
        lab("a", "mlops-judge/tool:1"),
        lab("b", "mlops-judge/tool:2"),
    );
    let loader = |id: &str| {
        let text = match id {
            "a" => &a,
            "b" => &b,
            _ => return None,
        };
        Some(LabSpec::parse_inner(
            text,
            id,
            BTreeMap::new(),
            &|_| Err("none".into()),
            None,
        ))
    };
    let parse = |blocks: &str| {
        LabSpec::parse_inner(
            &format!("{COMPOSER}{blocks}"),
            "final.toml",
            BTreeMap::new(),
            &|_| Err("none".into()),
            Some(&loader),
        )
    };
    let err = parse("[[compose]]\nlab = \"a\"\n[[compose]]\nlab = \"b\"\n")
        .expect_err("two images")
        .to_string();
    assert!(
        err.contains(
            "compose[1] (b).lab: its judge \"tool\" differs from one of the same name already here"
        ),
        "{err}"
    );
    // The same judge twice is one judge.
    let lab = parse("[[compose]]\nlab = \"a\"\n[[compose]]\nlab = \"a\"\nchecks = [\"run\"]\n");
    assert!(
        lab.expect_err("same ids")
            .to_string()
            .contains("duplicate check id")
    );
}

/// Writes an overlay for week 8 into a fresh folder.
fn overlay(toml: &str, snapshots: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = dir.path().join("week08");
    std::fs::create_dir_all(lab.join("snapshots")).expect("mkdir");
    std::fs::write(lab.join("overlay.toml"), toml).expect("write");
    for (name, body) in snapshots {
        std::fs::write(lab.join("snapshots").join(format!("{name}.snap")), body).expect("snap");
    }
    dir
}

#[test]
fn an_overlay_replaces_hidden_checks_and_adds_its_own_with_their_snapshots() {
    let dir = overlay(
        "[[checks]]\nid = \"predict.quality\"\ntitle = \"Right often enough on the instructor's wines\"\npoints = 12\nkind = \"accuracy\"\nvisibility = \"hidden\"\n\
         request = { method = \"POST\", path = \"/predict\" }\nanswer = \"/predictions\"\n\
         values = { integer = true, min = 3, max = 8 }\nsample = 300\nseed = 99\nmin_accuracy = 0.55\n\
         [[checks]]\nid = \"private.health\"\ntitle = \"A private probe\"\npoints = 3\nkind = \"snapshot\"\nvisibility = \"hidden\"\nsnapshot = \"private_health\"\nrequest = { path = \"/health\" }\n",
        &[("private_health", "---\n---\nstatus: 200\n")],
    );
    let public = embedded_lab("week08").expect("known").expect("valid");
    let mut lab = public.clone();
    assert_eq!(lab.apply_overlay(dir.path()).expect("applies"), 2);
    let replaced = lab
        .checks
        .iter()
        .find(|c| c.id == "predict.quality")
        .expect("kept");
    assert_eq!(replaced.points, 12);
    let added = lab.checks.last().expect("added last");
    assert_eq!(
        (added.id.as_str(), added.visibility),
        ("private.health", Visibility::Hidden)
    );
    assert!(lab.snapshots.contains_key("private_health"));
    assert_eq!(lab.checks.len(), public.checks.len() + 1);
    assert_ne!(
        lab.digest, public.digest,
        "a batch regrades when the overlay changes"
    );

    // A lab the overlay has no folder for is left as it is.
    let mut week02 = embedded_lab("week02").expect("known").expect("valid");
    let digest = week02.digest.clone();
    assert_eq!(week02.apply_overlay(dir.path()).expect("applies"), 0);
    assert_eq!(week02.digest, digest);
}

#[test]
fn an_overlay_cannot_show_or_replace_visible_checks() {
    let public = embedded_lab("week08").expect("known").expect("valid");
    let visible = public
        .checks
        .iter()
        .find(|c| c.visibility == Visibility::Visible)
        .expect("a visible check");
    for (toml, expected) in [
        (
            "[[checks]]\nid = \"x\"\ntitle = \"t\"\npoints = 1\nkind = \"http\"\nrequest = { path = \"/health\" }\nexpect = { status = 200 }\n".to_string(),
            "checks[0] (x): an overlay's checks are hidden",
        ),
        (
            format!("[[checks]]\nid = \"{}\"\ntitle = \"t\"\npoints = 1\nkind = \"http\"\nvisibility = \"hidden\"\nrequest = {{ path = \"/health\" }}\nexpect = {{ status = 200 }}\n", visible.id),
            "replaces a visible check",
        ),
        (
            "[[checks]]\nid = \"y\"\ntitle = \"t\"\npoints = 1\nkind = \"snapshot\"\nvisibility = \"hidden\"\nsnapshot = \"missing\"\nrequest = { path = \"/health\" }\n".to_string(),
            "missing",
        ),
        ("[[check]]\n".to_string(), "overlay.toml"),
    ] {
        let dir = overlay(&toml, &[]);
        let e = public.clone().apply_overlay(dir.path()).expect_err(&toml).to_string();
        assert!(e.contains(expected), "{toml}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

#[test]
fn the_instructor_guides_overlay_applies() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/examples/overlay");
    let mut lab = embedded_lab("week08").expect("known").expect("valid");
    assert_eq!(
        lab.apply_overlay(&dir)
            .expect("the guide's example applies"),
        1
    );
    let replaced = lab
        .checks
        .iter()
        .find(|c| c.id == "predict.quality")
        .expect("kept");
    assert_eq!(replaced.visibility, Visibility::Hidden);
    assert_eq!(lab.max_points(), 100);
}
