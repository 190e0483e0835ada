//! Week 14's submissions: the fixture tool (`fixture-week14`, week 14's
//! library behind its own routes) in a mode, FROM scratch with the
//! reference's notes where its Dockerfile puts them. The mode `runs-as-root`
//! is the reference with no USER line. No case compiles anything.

/// The reference, relative to the workspace.
const SOLUTION: &str = "solutions/week14-chatbot";

pub fn submission(mode: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let tool = super::fixture("fixture-week14");
    std::fs::copy(&tool, dir.path().join("fixture-week14")).expect("copy the fixture");
    let notes = super::workspace().join(SOLUTION).join("notes");
    let to = dir.path().join("notes");
    std::fs::create_dir(&to).expect("notes/");
    for entry in std::fs::read_dir(&notes).expect("the reference's notes") {
        let path = entry.expect("a note").path();
        std::fs::copy(&path, to.join(path.file_name().expect("a name"))).expect("copy a note");
    }
    let (mode, user) = match mode {
        "runs-as-root" => ("reference", ""),
        other => (other, "USER 65532:65532\n"),
    };
    let dockerfile = format!(
        "FROM scratch\n\
         COPY fixture-week14 /app/wine-chatbot\n\
         COPY notes /app/notes\n\
         ENV NOTES_DIR=/app/notes\n\
         {user}\
         WORKDIR /app\n\
         EXPOSE 8080\n\
         ENTRYPOINT [\"/app/wine-chatbot\", \"--mode\", \"{mode}\"]\n"
    );
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("Dockerfile");
    dir
}
