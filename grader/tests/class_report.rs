//! The class report (`class.html`) opened in headless Chromium at a desktop
//! and a phone width: it fits the screen (wide tables scroll inside their
//! box, the page does not), draws every bar, loads nothing from elsewhere,
//! and shows a submission's markup as text.

use grader::report;
use grader::result::{ClassEntry, Report};
use std::process::Command;

fn sample() -> Report {
    serde_json::from_str(include_str!("../src/report/testdata/sample.json")).expect("sample")
}

/// A class of twelve: scores spread over the bins, one not graded.
fn class() -> Vec<ClassEntry> {
    let mut entries = Vec::new();
    for (i, earned) in [40u32, 40, 35, 30, 30, 30, 22, 15, 8, 0, 38]
        .iter()
        .enumerate()
    {
        let mut r = sample();
        r.score.earned = *earned;
        r.timings.build_ms = 1000 * (i as u64 + 1);
        entries.push(ClassEntry {
            student: format!("student-{i:02}-with-a-rather-long-id@example.edu"),
            path: format!("class/{i}"),
            report: Some(r),
            error: None,
            attempts: 1,
        });
    }
    entries.push(ClassEntry {
        student: "lee".into(),
        path: "class/lee".into(),
        report: None,
        error: Some("Docker: <script>alert(1)</script> a judge image is missing".into()),
        attempts: 3,
    });
    entries
}

/// Measures the page once it has loaded, into a `pre` the test reads back.
const CHECKER: &str = r##"<script>
addEventListener("load", () => {
  const doc = document.documentElement;
  const facts = {
    overflow: doc.scrollWidth - innerWidth,
    bars: document.querySelectorAll(".hist > div").length,
    tallest: Math.max(...[...document.querySelectorAll(".hist > div")].map(b => b.getBoundingClientRect().height)),
    bold: document.querySelectorAll("main b").length,
    scripts: document.querySelectorAll("script").length,
    rows: document.querySelectorAll("#students ~ .scroll tbody tr").length,
  };
  const pre = document.createElement("pre");
  pre.id = "facts";
  pre.textContent = JSON.stringify(facts);
  document.body.append(pre);
});
</script>"##;

fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and Chromium is missing (`.ci/run` installs it)");
    }
    found
}

fn facts(browser: &str, page: &std::path::Path, width: u32) -> serde_json::Value {
    let output = Command::new(browser)
        .args(["--headless=new", "--no-sandbox", "--disable-gpu"])
        .arg(format!("--window-size={width},900"))
        .args(["--virtual-time-budget=5000", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout);
    let start = dom.find("<pre id=\"facts\">").expect("the checker ran") + 16;
    let end = start + dom[start..].find("</pre>").expect("end of facts");
    serde_json::from_str(&dom[start..end].replace("&quot;", "\"")).expect("facts")
}

#[test]
fn the_class_report_fits_a_desktop_and_a_phone_and_shows_markup_as_text() {
    let Some(browser) = chromium() else {
        eprintln!("skipped: no Chromium");
        return;
    };
    let lab = grader::spec::embedded_lab("week08")
        .expect("known")
        .expect("valid");
    let html = report::class_html(&lab, &class(), "2026-12-07T18:00:00Z");
    assert!(!html.contains("<script"), "the report runs no script");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from elsewhere"
    );
    assert!(html.contains("&lt;script&gt;alert(1)"), "escaped, not run");

    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("class.html");
    std::fs::write(&page, html.replace("</body>", &format!("{CHECKER}</body>"))).expect("write");
    for width in [1280, 390] {
        let facts = facts(browser, &page, width);
        assert!(
            facts["overflow"].as_i64() <= Some(0),
            "{width} px: the page scrolls sideways: {facts}"
        );
        assert_eq!(facts["bars"], 10, "{width} px: {facts}");
        assert!(
            facts["tallest"].as_f64() > Some(100.0),
            "{width} px: {facts}"
        );
        assert_eq!(
            facts["bold"], 6,
            "{width} px: only the six cards' numbers are bold: {facts}"
        );
        assert_eq!(facts["scripts"], 1, "{width} px: only the checker: {facts}");
        assert_eq!(facts["rows"], 12, "{width} px: {facts}");
    }
}
