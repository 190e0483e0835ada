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
            "[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 0\nkind = \"sigterm\"\n",
            "checks[0] (a): points must be above 0",
        ),
        (
            "[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"teleport\"\n",
            "unknown kind \"teleport\"",
        ),
        (
            "[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"sigterm\"\ngrace = 3\n",
            "unknown field `grace`",
        ),
        (
            "[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"sigterm\"\n[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"sigterm\"\n",
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
fn a_wrong_week_and_a_missing_section_are_refused() {
    let err = parse("id = \"w\"\ntitle = \"T\"\nweek = 16\n[container]\nport = 1\nready_path = \"/\"\n[[checks]]\nid = \"a\"\ntitle = \"t\"\npoints = 1\nkind = \"sigterm\"\n")
        .expect_err("refused")
        .to_string();
    assert!(err.contains("week: 16 is not a week"), "{err}");
    let err = parse("id = \"w\"\ntitle = \"T\"\nweek = 1\n")
        .expect_err("refused")
        .to_string();
    assert!(err.contains("container"), "{err}");
}
