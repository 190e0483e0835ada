//! Who is graded: a folder of submission folders (one per student, named for
//! them), or a roster CSV naming each student's folder, or their repository
//! and the commit to grade (cloned by [`super::git`]).

use std::path::{Path, PathBuf};

/// One student's submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub student: String,
    /// The submission's folder (for a repository: where it is cloned).
    pub path: PathBuf,
    /// A repository to clone and the commit to grade, from a roster CSV.
    pub git: Option<GitSource>,
    /// Why there is nothing to grade (the clone failed): recorded for the
    /// student instead of a grade.
    pub problem: Option<String>,
}

/// A student's repository and the commit to grade.
#[derive(Debug, Clone, PartialEq)]
pub struct GitSource {
    pub url: String,
    pub commit: String,
}

impl Entry {
    /// A submission in a folder.
    pub fn folder(student: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Entry {
            student: student.into(),
            path: path.into(),
            git: None,
            problem: None,
        }
    }
}

/// Reads a roster: `source` is a CSV file (header `student,path`; a relative
/// path is read from the CSV's folder) or a folder whose subfolders are the
/// submissions. Students come in the roster's order (a folder's: by name).
pub fn read(source: &Path) -> Result<Vec<Entry>, String> {
    let meta = std::fs::metadata(source)
        .map_err(|e| format!("cannot read the roster {}: {e}", source.display()))?;
    let entries = if meta.is_dir() {
        from_folder(source)?
    } else {
        from_csv(source)?
    };
    if entries.is_empty() {
        return Err(format!(
            "the roster {} names no submission",
            source.display()
        ));
    }
    Ok(entries)
}

fn from_folder(dir: &Path) -> Result<Vec<Entry>, String> {
    let listing =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut entries = Vec::new();
    for item in listing {
        let item = item.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let name = item.file_name();
        let Some(name) = name.to_str() else {
            return Err(format!(
                "{}: a folder name that is not UTF-8 cannot be a student id",
                item.path().display()
            ));
        };
        // Hidden folders (.git, .journal) are not submissions.
        if name.starts_with('.') || !item.path().is_dir() {
            continue;
        }
        check_id(name).map_err(|p| format!("{}: {p}", item.path().display()))?;
        entries.push(Entry::folder(name, item.path()));
    }
    entries.sort_by(|a, b| a.student.cmp(&b.student));
    Ok(entries)
}

#[derive(serde::Deserialize)]
struct Row {
    student: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    repository: String,
    #[serde(default)]
    commit: String,
}

fn from_csv(file: &Path) -> Result<Vec<Entry>, String> {
    let origin = file.display();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(file)
        .map_err(|e| format!("cannot read the roster {origin}: {e}"))?;
    let header = reader
        .headers()
        .map_err(|e| format!("cannot read the roster {origin}: {}", one_line(&e)))?;
    let has = |name: &str| header.iter().any(|h| h == name);
    if !(has("student") && (has("path") || has("repository"))) {
        let names: Vec<&str> = header.iter().collect();
        return Err(format!(
            "{origin}: line 1: the header must name the columns student and path, or student, repository and commit (it names: {})",
            names.join(", ")
        ));
    }
    let base = file.parent().unwrap_or(Path::new("."));
    let mut entries: Vec<Entry> = Vec::new();
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        // Line 1 is the header.
        let line = i + 2;
        let row = row.map_err(|e| match e.kind() {
            csv::ErrorKind::Deserialize { err, .. } => format!("{origin}: line {line}: {err}"),
            _ => format!("{origin}: line {line}: {}", one_line(&e)),
        })?;
        check_id(&row.student).map_err(|p| format!("{origin}: line {line}: {p}"))?;
        let at = |p: String| format!("{origin}: line {line}: {p}");
        let entry = match (row.path.is_empty(), row.repository.is_empty()) {
            (false, true) if row.path.contains("://") || row.path.starts_with("git@") => {
                return Err(at(format!(
                    "\"{}\" is a URL: put it in the repository column, with a commit",
                    row.path
                )));
            }
            (false, true) => Entry::folder(&row.student, base.join(&row.path)),
            (true, false) => {
                let commit = row.commit.to_ascii_lowercase();
                if !(7..=40).contains(&commit.len())
                    || !commit.chars().all(|c| c.is_ascii_hexdigit())
                {
                    return Err(at(format!(
                        "\"{}\" is not a commit: give the commit to grade, as a hex hash of 7 to 40 digits",
                        row.commit
                    )));
                }
                if row.repository.starts_with('-') {
                    return Err(at(format!("\"{}\" is not a repository", row.repository)));
                }
                Entry {
                    git: Some(GitSource {
                        url: row.repository.clone(),
                        commit,
                    }),
                    ..Entry::folder(&row.student, PathBuf::new())
                }
            }
            (false, false) => {
                return Err(at("give a path or a repository, not both".into()));
            }
            (true, true) => return Err(at("the path is empty".into())),
        };
        if entries.iter().any(|e| e.student == row.student) {
            return Err(format!(
                "{origin}: line {line}: student \"{}\" is listed twice",
                row.student
            ));
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// Shard `index` (from 1) of `count`: the students whose id hashes to it.
/// Hashing the id, not the position, keeps each student in the same shard
/// when the roster gains or loses others.
pub fn shard(entries: Vec<Entry>, index: u32, count: u32) -> Vec<Entry> {
    use sha2::{Digest, Sha256};
    entries
        .into_iter()
        .filter(|e| {
            let hash = Sha256::digest(e.student.as_bytes());
            let n = u64::from_be_bytes(hash[..8].try_into().unwrap_or([0; 8]));
            n % u64::from(count) == u64::from(index - 1)
        })
        .collect()
}

/// Reads `I/N` (1 ≤ I ≤ N ≤ 1000), as `--shard` takes it.
pub fn parse_shard(text: &str) -> Result<(u32, u32), String> {
    let parsed = text
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse::<u32>().ok()?, n.trim().parse::<u32>().ok()?)));
    match parsed {
        Some((i, n)) if (1..=1000).contains(&n) && (1..=n).contains(&i) => Ok((i, n)),
        _ => Err(format!(
            "\"{text}\" is not a shard: give I/N, with 1 <= I <= N <= 1000 (1/4 is the first of four)"
        )),
    }
}

/// A student id names the files of their reports: letters, digits and
/// `.`, `_`, `-`, `@`, not starting with a dot, at most 100 characters.
fn check_id(id: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    if id.is_empty() {
        Err("the student id is empty".into())
    } else if id.chars().count() > 100 {
        Err("the student id is longer than 100 characters".into())
    } else if id.starts_with('.') || !id.chars().all(allowed) {
        Err(format!(
            "\"{}\" is not a student id: use letters, digits, '.', '_', '-' and '@', not starting with '.'",
            id.escape_debug()
        ))
    } else {
        Ok(())
    }
}

fn one_line(e: &csv::Error) -> String {
    e.to_string().replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_lists_its_subfolders_by_name_and_skips_hidden_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["kim", "lee", ".journal", "alice"] {
            std::fs::create_dir(dir.path().join(name)).expect("mkdir");
        }
        std::fs::write(dir.path().join("notes.txt"), "x").expect("write");
        let students: Vec<String> = read(dir.path())
            .expect("roster")
            .into_iter()
            .map(|e| e.student)
            .collect();
        assert_eq!(students, ["alice", "kim", "lee"]);
    }

    #[test]
    fn shards_split_a_roster_exactly_and_keep_students_in_place() {
        let roster: Vec<Entry> = (0..50)
            .map(|i| Entry::folder(format!("s{i}"), format!("x/{i}")))
            .collect();
        let mut all: Vec<Entry> = (1..=4).flat_map(|i| shard(roster.clone(), i, 4)).collect();
        assert!((1..=4).all(|i| !shard(roster.clone(), i, 4).is_empty()));
        all.sort_by(|a, b| a.student.cmp(&b.student));
        let mut expected = roster.clone();
        expected.sort_by(|a, b| a.student.cmp(&b.student));
        assert_eq!(all, expected, "every student in exactly one shard");
        // A new student moves nobody else.
        let before = shard(roster.clone(), 2, 4);
        let mut grown = roster.clone();
        grown.push(Entry::folder("new", "x/new"));
        let after: Vec<Entry> = shard(grown, 2, 4)
            .into_iter()
            .filter(|e| e.student != "new")
            .collect();
        assert_eq!(before, after);
        assert_eq!(parse_shard("2/4"), Ok((2, 4)));
        for bad in ["0/4", "5/4", "1/0", "x", "1/2/3"] {
            let e = parse_shard(bad).expect_err(bad);
            assert!(e.contains("is not a shard"), "{e}");
        }
    }

    #[test]
    fn a_csv_roster_reads_paths_from_its_own_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let csv = dir.path().join("roster.csv");
        std::fs::write(&csv, "student,path\nkim, subs/kim\nlee,/abs/lee\n").expect("write");
        let roster = read(&csv).expect("roster");
        assert_eq!(roster[0].path, dir.path().join("subs/kim"));
        assert_eq!(roster[1].path, PathBuf::from("/abs/lee"));
    }

    #[test]
    fn bad_rosters_are_refused_in_one_line_naming_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let csv = dir.path().join("roster.csv");
        for (text, expected) in [
            (
                "student,path\nkim,a\nkim,b\n",
                "line 3: student \"kim\" is listed twice",
            ),
            (
                "student,path\n../x,a\n",
                "line 2: \"../x\" is not a student id",
            ),
            (
                "student,path\nkim,https://github.com/x/y\n",
                "is a URL: put it in the repository column",
            ),
            (
                "student,repository,commit\nkim,https://example.edu/kim.git,main\n",
                "line 2: \"main\" is not a commit",
            ),
            (
                "student,path,repository,commit\nkim,a,https://example.edu/kim.git,abcdef0\n",
                "not both",
            ),
            (
                "name,folder\nkim,a\n",
                "line 1: the header must name the columns student and path, or student, repository and commit (it names: name, folder)",
            ),
            ("student,path\n", "names no submission"),
        ] {
            std::fs::write(&csv, text).expect("write");
            let e = read(&csv).expect_err(text);
            assert!(e.contains(expected), "{text:?}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
        let e = read(&dir.path().join("none.csv")).expect_err("missing");
        assert!(e.starts_with("cannot read the roster"), "{e}");
    }
}
