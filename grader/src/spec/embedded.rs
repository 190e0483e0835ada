//! The labs that travel inside the grader binary, so that a student's installed
//! grader needs nothing from this repository to grade.

use super::{LabSpec, SpecError};
use std::collections::BTreeMap;

/// A lab's files as compiled into the grader.
pub struct EmbeddedLab {
    pub id: &'static str,
    pub spec: &'static str,
    pub snapshots: &'static [(&'static str, &'static str)],
}

/// The labs' data files, by their path from a lab's folder, as `lab.toml`
/// names them (`[rows] file`).
const DATA: &[(&str, &str)] = &[(
    "../data/winequality-red.csv",
    include_str!("../../labs/data/winequality-red.csv"),
)];

const LABS: &[EmbeddedLab] = &[
    EmbeddedLab {
        id: "week01",
        spec: include_str!("../../labs/week01/lab.toml"),
        snapshots: &[],
    },
    EmbeddedLab {
        id: "week02",
        spec: include_str!("../../labs/week02/lab.toml"),
        snapshots: &[
            (
                "evaluate",
                include_str!("../../labs/week02/snapshots/evaluate.snap"),
            ),
            (
                "predict",
                include_str!("../../labs/week02/snapshots/predict.snap"),
            ),
            (
                "train",
                include_str!("../../labs/week02/snapshots/train.snap"),
            ),
        ],
    },
    EmbeddedLab {
        id: "week03",
        spec: include_str!("../../labs/week03/lab.toml"),
        snapshots: &[
            (
                "plan-in-sync",
                include_str!("../../labs/week03/snapshots/plan-in-sync.snap"),
            ),
            (
                "plan-mixed",
                include_str!("../../labs/week03/snapshots/plan-mixed.snap"),
            ),
            (
                "plan-sorted",
                include_str!("../../labs/week03/snapshots/plan-sorted.snap"),
            ),
        ],
    },
    EmbeddedLab {
        id: "week04",
        spec: include_str!("../../labs/week04/lab.toml"),
        snapshots: &[],
    },
    EmbeddedLab {
        id: "week05",
        spec: include_str!("../../labs/week05/lab.toml"),
        snapshots: &[],
    },
    EmbeddedLab {
        id: "week08",
        spec: include_str!("../../labs/week08/lab.toml"),
        snapshots: &[(
            "predict-contract",
            include_str!("../../labs/week08/snapshots/predict-contract.snap"),
        )],
    },
];

/// The ids of the labs this grader knows.
pub fn embedded_labs() -> impl Iterator<Item = &'static str> {
    LABS.iter().map(|l| l.id)
}

/// Loads an embedded lab by id; `None` if the grader does not know it.
pub fn embedded_lab(id: &str) -> Option<Result<LabSpec, SpecError>> {
    let lab = LABS.iter().find(|l| l.id == id)?;
    let snapshots: BTreeMap<String, String> = lab
        .snapshots
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let data = |name: &str| match DATA.iter().find(|(path, _)| *path == name) {
        Some((_, text)) => Ok(text.to_string()),
        None => Err(format!("\"{name}\" is not a data file the grader carries")),
    };
    Some(LabSpec::parse_with_data(
        lab.spec,
        &format!("grader/labs/{}/lab.toml", lab.id),
        snapshots,
        &data,
    ))
}
