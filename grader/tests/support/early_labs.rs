//! Weeks 1 and 2's submissions: the static fixture `fixture-early-labs`, which
//! plays each lab's program in a mode (`week01:reference`, `week02:no-logs`...),
//! packaged FROM scratch with a stand-in model and a DESIGN.md.

const DESIGN: &str = "# Design\n\n\
## Problem\n\nPredict the quality a panel of tasters would give a red wine from eleven laboratory measurements, so that ordinary lots can be priced without a tasting and tasters see only the unusual ones.\n\n\
## Data\n\nThe 1,599 red wines of linfa-datasets, eleven physico-chemical measurements each and the median score of three tasters; qualities 5 and 6 dominate, 3 and 8 are rare; a seeded 80/20 split.\n\n\
## Metric\n\nExact accuracy on the held-out fifth, against the majority class which scores about 0.43; mean absolute error beside it, since predicting 6 for a 5 costs less than predicting 8.\n\n\
## Serving constraints\n\nOne prediction within 50 ms at the 99th percentile and batches of a thousand, in a container of 256 MB with one CPU and no network; the model file is trained offline and reproducible.\n\n\
## Risks\n\nScores are subjective and come from one region, so the model may silently misprice other wines; rare qualities are almost never predicted; bad inputs and a replaced model file would change every answer.\n";

/// Which DESIGN.md the submission has.
#[derive(Clone, Copy, PartialEq, Debug, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Design {
    /// Every section, each long enough.
    #[default]
    Full,
    /// The Risks section is two words: "TODO: risks."
    ThinRisks,
}

impl Design {
    pub fn text(self) -> String {
        match self {
            Design::Full => DESIGN.to_string(),
            Design::ThinRisks => DESIGN.replace(
                "Scores are subjective and come from one region, so the model may silently misprice other wines; rare qualities are almost never predicted; bad inputs and a replaced model file would change every answer.",
                "TODO: risks.",
            ),
        }
    }
}

/// A submission: the fixture in `lab_mode`, FROM scratch, with a stand-in
/// model at /app/model.json and `design` as DESIGN.md.
pub fn submission(lab_mode: &str, design: Design) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = "fixture-early-labs";
    std::fs::copy(super::fixture(bin), dir.path().join(bin)).expect("copy fixture");
    std::fs::write(dir.path().join("model.json"), "{}\n").expect("model");
    std::fs::write(dir.path().join("DESIGN.md"), design.text()).expect("DESIGN.md");
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY {bin} /app/{bin}\nCOPY model.json /app/model.json\n\
             USER 65532:65532\nENTRYPOINT [\"/app/{bin}\", \"--mode\", \"{lab_mode}\"]\n"
        ),
    )
    .expect("Dockerfile");
    dir
}
