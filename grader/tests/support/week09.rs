//! Week 9's submissions: the fixture pod (`fixture-week09`) in a mode, FROM
//! scratch, beside a copy of the reference's k8s/ manifests with
//! `[[case.edit]]`s. The service trains its model in memory, so no case
//! compiles anything.

use std::path::Path;

use super::week05::{Edit, apply};

/// The reference manifests, relative to the workspace.
const MANIFESTS: &str = "solutions/week09-orchestration/k8s";

pub fn submission(mode: &str, edits: &[Edit]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        super::fixture("fixture-week09"),
        dir.path().join("fixture-week09"),
    )
    .expect("copy the fixture");
    let dockerfile = format!(
        "FROM scratch\nCOPY fixture-week09 /app/fixture-week09\nUSER 65532:65532\nEXPOSE 8080\nENTRYPOINT [\"/app/fixture-week09\", \"--mode\", \"{mode}\"]\n"
    );
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("Dockerfile");
    copy_manifests(&super::workspace().join(MANIFESTS), &dir.path().join("k8s"));
    apply(dir.path(), edits);
    dir
}

fn copy_manifests(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("k8s/");
    for entry in std::fs::read_dir(from).expect("the reference's k8s/") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("a name");
        std::fs::copy(&path, to.join(name)).expect("copy a manifest");
    }
}
