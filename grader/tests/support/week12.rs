//! Week 12's submissions: the fixture tool (`fixture-week12`, week 12's
//! library behind its own command line) in a mode, FROM scratch with the wine
//! data and the reference's model where the lab's contract puts them, beside
//! the reference's README.md with `[[case.edit]]`s. No case compiles anything.

use super::week05::{Edit, apply};

/// The reference, relative to the workspace.
const SOLUTION: &str = "solutions/week12-data-experiments";

pub fn submission(mode: &str, edits: &[Edit]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let solution = super::workspace().join(SOLUTION);
    let copies = [
        (super::fixture("fixture-week12"), "fixture-week12"),
        (
            solution.join("data/winequality-red.csv"),
            "winequality-red.csv",
        ),
        (solution.join("model.json"), "model.json"),
        (solution.join("README.md"), "README.md"),
    ];
    for (from, to) in copies {
        std::fs::copy(&from, dir.path().join(to))
            .unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
    let dockerfile = format!(
        "FROM scratch\n\
         COPY fixture-week12 /app/wine-experiments\n\
         COPY winequality-red.csv /app/data/winequality-red.csv\n\
         COPY model.json /app/model.json\n\
         USER 65532:65532\n\
         ENTRYPOINT [\"/app/wine-experiments\", \"--mode\", \"{mode}\"]\n"
    );
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("Dockerfile");
    apply(dir.path(), edits);
    dir
}
