//! Week 10's submissions: a copy of the reference pipeline with edits, in a
//! git repository with one commit (DVC runs in a git repository, and the
//! judge's copy of it is a clone of that history).

use super::repo::{commit, copy_tree, init};
use super::week05::{Edit, apply};

pub const SOLUTION: &str = "solutions/week10-reproducible-pipelines";
/// Week 15's project holds week 10's pipeline, and is made the same way.
pub const FINAL: &str = "solutions/week15-final-project";

pub fn repository(source: &str, edits: &[Edit]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&super::workspace().join(source), dir.path());
    apply(dir.path(), edits);
    init(dir.path());
    commit(dir.path(), &["."], "feat: the wine pipeline, reproduced");
    dir
}
