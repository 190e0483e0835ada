//! `labels`: annotators' grades combined into one quality per wine.
//!
//! The wine data's labels were made this way (Cortez et al., 2009): each
//! wine graded blind by at least three assessors from 0 to 10, the label the
//! median of their grades. This module does the same with an annotations file
//! (`wine,annotator,grade`, one grade per line) and counts what gets in the
//! way:
//!
//! - a line is `malformed` (not three fields, or an empty wine or
//!   annotator) or `out_of_scale` (a grade that is not a whole number from 0
//!   to 10): it is left out;
//! - a grade is `repeated` when the same annotator already graded the same
//!   wine: the later grade is left out;
//! - a wine has `too_few` grades (under three valid ones), or its grades show
//!   a `disagreement` (the highest and the lowest more than one point
//!   apart): it goes to review instead of getting a label.
//!
//! Every other wine is resolved to the median of its grades (the lower
//! median for an even count).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::{AppError, FileError, Ordered, csv_field, read, to_json, write_files};

/// The header line the annotations file must start with.
pub const ANNOTATIONS_HEADER: &str = "wine,annotator,grade";

/// The fewest grades a wine needs to be resolved.
pub const MIN_GRADES: usize = 3;

/// The widest spread (highest minus lowest grade) that is still agreement.
pub const MAX_SPREAD: u8 = 1;

/// The highest grade of the scale (0 to 10).
pub const MAX_GRADE: u8 = 10;

/// What gets in the way of a label: the first three are counted per line,
/// the last two per wine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    Malformed,
    OutOfScale,
    Repeated,
    TooFew,
    Disagreement,
}

impl Problem {
    pub const ALL: [Problem; 5] = [
        Problem::Malformed,
        Problem::OutOfScale,
        Problem::Repeated,
        Problem::TooFew,
        Problem::Disagreement,
    ];

    /// The problem as the output files spell it.
    pub fn name(self) -> &'static str {
        match self {
            Problem::Malformed => "malformed",
            Problem::OutOfScale => "out_of_scale",
            Problem::Repeated => "repeated",
            Problem::TooFew => "too_few",
            Problem::Disagreement => "disagreement",
        }
    }
}

/// One valid line of the annotations file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub wine: String,
    pub annotator: String,
    pub grade: u8,
}

/// Reads one line (`wine,annotator,grade`, spaces around a field ignored):
/// `malformed` when it does not have three fields or its wine or annotator
/// is empty, `out_of_scale` when the grade is not a whole number from 0 to
/// 10 (a word, an empty grade, 5.5, 11).
// lab:solution
pub fn read_annotation(line: &str) -> Result<Annotation, Problem> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let [wine, annotator, grade] = fields[..] else {
        return Err(Problem::Malformed);
    };
    if wine.is_empty() || annotator.is_empty() {
        return Err(Problem::Malformed);
    }
    let grade = grade
        .parse::<u8>()
        .ok()
        .filter(|g| *g <= MAX_GRADE)
        .ok_or(Problem::OutOfScale)?;
    Ok(Annotation {
        wine: wine.to_owned(),
        annotator: annotator.to_owned(),
        grade,
    })
}
// lab:starter
// ///
// /// TODO(week 12): split on commas, trim, and return the problem or the
// /// annotation.
// pub fn read_annotation(_line: &str) -> Result<Annotation, Problem> {
//     todo!("week 12: read one annotation (malformed, out_of_scale)")
// }
// lab:end

/// The valid grades, by wine (sorted by id), each with its annotator, in
/// file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grades {
    by_wine: BTreeMap<String, Vec<(String, u8)>>,
}

impl Grades {
    /// Records a valid annotation, unless its annotator already graded its
    /// wine: then nothing is recorded and the problem is `repeated`.
    // lab:solution
    pub fn add(&mut self, annotation: Annotation) -> Result<(), Problem> {
        let grades = self.by_wine.entry(annotation.wine).or_default();
        if grades.iter().any(|(who, _)| *who == annotation.annotator) {
            return Err(Problem::Repeated);
        }
        grades.push((annotation.annotator, annotation.grade));
        Ok(())
    }
    // lab:starter
    // ///
    // /// TODO(week 12): keep the first grade of each annotator for each wine.
    // pub fn add(&mut self, _annotation: Annotation) -> Result<(), Problem> {
    //     todo!("week 12: record a grade, or say it is repeated")
    // }
    // lab:end

    /// Each wine, by id, with its grades in file order.
    pub fn wines(&self) -> impl Iterator<Item = (&str, Vec<u8>)> {
        self.by_wine
            .iter()
            .map(|(wine, grades)| (wine.as_str(), grades.iter().map(|(_, g)| *g).collect()))
    }
}

/// What becomes of a wine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Its label: the median of its grades.
    Resolved(u8),
    /// To review: [`Problem::TooFew`] or [`Problem::Disagreement`].
    Review(Problem),
}

/// A wine's verdict from its valid grades: `too_few` under [`MIN_GRADES`];
/// a `disagreement` when the highest and the lowest differ by more than
/// [`MAX_SPREAD`]; else the median (the lower one for an even count).
// lab:solution
pub fn verdict(grades: &[u8]) -> Verdict {
    if grades.len() < MIN_GRADES {
        return Verdict::Review(Problem::TooFew);
    }
    let mut sorted = grades.to_vec();
    sorted.sort_unstable();
    let (low, high) = (sorted[0], sorted[sorted.len() - 1]);
    if high - low > MAX_SPREAD {
        return Verdict::Review(Problem::Disagreement);
    }
    Verdict::Resolved(sorted[(sorted.len() - 1) / 2])
}
// lab:starter
// ///
// /// TODO(week 12): the three rules, in this order.
// pub fn verdict(_grades: &[u8]) -> Verdict {
//     todo!("week 12: too_few, disagreement or the median")
// }
// lab:end

/// A wine that needs a human: why, and its grades (ascending).
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub wine: String,
    pub reason: Problem,
    pub grades: Vec<u8>,
}

/// The outcome of checking an annotations file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelReport {
    /// Non-blank lines after the header.
    pub annotations: usize,
    /// Distinct wines among the valid lines.
    pub wines: usize,
    /// Each resolved wine and its quality, by id.
    pub resolved: Vec<(String, u8)>,
    /// The wines to review, by id.
    pub review: Vec<Review>,
    /// How many of each problem, all five, in order.
    pub problems: Vec<(Problem, usize)>,
}

/// `labels.json`, keys in this order.
#[derive(Serialize)]
struct Summary<'a> {
    annotations: usize,
    wines: usize,
    resolved: usize,
    problems: Ordered<usize>,
    /// Each resolved wine's quality, by wine id.
    labels: BTreeMap<&'a str, u8>,
}

/// Checks the text of an annotations file.
pub fn check_text(text: &str) -> Result<LabelReport, FileError> {
    let mut lines = text.lines();
    let header = lines.next().ok_or(FileError::Empty {
        expected: ANNOTATIONS_HEADER,
    })?;
    let header = header.strip_prefix('\u{feff}').unwrap_or(header).trim();
    if header != ANNOTATIONS_HEADER {
        return Err(FileError::header(ANNOTATIONS_HEADER, header));
    }
    let mut report = LabelReport::default();
    let mut counts: BTreeMap<Problem, usize> = BTreeMap::new();
    let mut grades = Grades::default();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        report.annotations += 1;
        let problem = read_annotation(line).and_then(|a| grades.add(a)).err();
        if let Some(problem) = problem {
            *counts.entry(problem).or_default() += 1;
        }
    }
    for (wine, mut wine_grades) in grades.wines() {
        report.wines += 1;
        match verdict(&wine_grades) {
            Verdict::Resolved(quality) => report.resolved.push((wine.to_owned(), quality)),
            Verdict::Review(reason) => {
                *counts.entry(reason).or_default() += 1;
                wine_grades.sort_unstable();
                report.review.push(Review {
                    wine: wine.to_owned(),
                    reason,
                    grades: wine_grades,
                });
            }
        }
    }
    report.problems = Problem::ALL
        .iter()
        .map(|p| (*p, counts.get(p).copied().unwrap_or(0)))
        .collect();
    Ok(report)
}

impl LabelReport {
    /// `labels.csv`: `wine,quality`, by wine id.
    pub fn labels_csv(&self) -> String {
        let mut text = String::from("wine,quality\n");
        for (wine, quality) in &self.resolved {
            text.push_str(&format!("{},{quality}\n", csv_field(wine)));
        }
        text
    }

    /// `review.csv`: `wine,reason,grades`, by wine id; the grades ascending,
    /// joined by `;`.
    pub fn review_csv(&self) -> String {
        let mut text = String::from("wine,reason,grades\n");
        for r in &self.review {
            let grades: Vec<String> = r.grades.iter().map(u8::to_string).collect();
            text.push_str(&format!(
                "{},{},{}\n",
                csv_field(&r.wine),
                r.reason.name(),
                grades.join(";")
            ));
        }
        text
    }

    /// `labels.json`: the counts, then each resolved wine's quality (the
    /// same as `labels.csv`).
    pub fn summary_json(&self) -> String {
        to_json(&Summary {
            annotations: self.annotations,
            wines: self.wines,
            resolved: self.resolved.len(),
            problems: Ordered(self.problems.iter().map(|(p, n)| (p.name(), *n)).collect()),
            labels: self
                .resolved
                .iter()
                .map(|(wine, quality)| (wine.as_str(), *quality))
                .collect(),
        })
    }

    /// What `labels` prints.
    pub fn summary_text(&self) -> String {
        let mut text = format!(
            "{} annotations of {} wines: {} resolved, {} to review\n",
            self.annotations,
            self.wines,
            self.resolved.len(),
            self.review.len()
        );
        for (problem, n) in &self.problems {
            text.push_str(&format!("  {:<13} {n}\n", problem.name()));
        }
        text
    }
}

/// `labels`: checks `input` and writes `labels.csv`, `review.csv` and
/// `labels.json` into `out`. Nothing is written when the file cannot be read
/// or its header is wrong.
pub fn labels(input: &Path, out: &Path) -> Result<LabelReport, AppError> {
    let report = check_text(&read(input)?).map_err(|source| AppError::File {
        path: input.to_owned(),
        source,
    })?;
    write_files(
        out,
        &[
            ("labels.csv", report.labels_csv()),
            ("review.csv", report.review_csv()),
            ("labels.json", report.summary_json()),
        ],
    )?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    // lab:starter
    // #[ignore = "TODO(week 12): passes once read_annotation is written"]
    // lab:end
    #[test]
    fn each_line_problem_is_named() {
        assert_eq!(
            read_annotation(" w1 , ann , 6 "),
            Ok(Annotation {
                wine: "w1".into(),
                annotator: "ann".into(),
                grade: 6
            })
        );
        for line in ["w1,ann", "w1,ann,5,extra", ",ann,5", "w1, ,5", "nonsense"] {
            assert_eq!(read_annotation(line), Err(Problem::Malformed), "{line}");
        }
        for line in [
            "w1,ann,11",
            "w1,ann,-1",
            "w1,ann,5.5",
            "w1,ann,",
            "w1,ann,good",
        ] {
            assert_eq!(read_annotation(line), Err(Problem::OutOfScale), "{line}");
        }
        assert_eq!(read_annotation("w1,ann,0").map(|a| a.grade), Ok(0));
        assert_eq!(read_annotation("w1,ann,10").map(|a| a.grade), Ok(10));
    }

    // lab:starter
    // #[ignore = "TODO(week 12): passes once Grades::add is written"]
    // lab:end
    #[test]
    fn a_second_grade_by_the_same_annotator_is_repeated() {
        let mut grades = Grades::default();
        let a = |wine: &str, annotator: &str, grade| Annotation {
            wine: wine.into(),
            annotator: annotator.into(),
            grade,
        };
        assert_eq!(grades.add(a("w2", "ann", 5)), Ok(()));
        assert_eq!(grades.add(a("w1", "ann", 5)), Ok(()));
        assert_eq!(grades.add(a("w2", "bob", 6)), Ok(()));
        assert_eq!(grades.add(a("w2", "ann", 8)), Err(Problem::Repeated));
        let wines: Vec<(&str, Vec<u8>)> = grades.wines().collect();
        assert_eq!(wines, [("w1", vec![5]), ("w2", vec![5, 6])]);
    }

    // lab:starter
    // #[ignore = "TODO(week 12): passes once verdict is written"]
    // lab:end
    #[test]
    fn verdicts_follow_the_three_rules() {
        assert_eq!(verdict(&[]), Verdict::Review(Problem::TooFew));
        assert_eq!(verdict(&[5, 5]), Verdict::Review(Problem::TooFew));
        assert_eq!(verdict(&[5, 6, 8]), Verdict::Review(Problem::Disagreement));
        assert_eq!(verdict(&[6, 5, 6]), Verdict::Resolved(6));
        assert_eq!(verdict(&[6, 5, 5]), Verdict::Resolved(5));
        // An even count: the lower median.
        assert_eq!(verdict(&[6, 5, 6, 5]), Verdict::Resolved(5));
        assert_eq!(verdict(&[7, 7, 7, 7, 6]), Verdict::Resolved(7));
    }

    // lab:starter
    // #[ignore = "TODO(week 12): passes once read_annotation, Grades::add and verdict are written"]
    // lab:end
    #[test]
    fn a_file_with_every_problem() {
        let text = "\
wine,annotator,grade
w2,ann,5
w2,bob,6
w2,cat,6
w2,ann,3

w1,ann,5
w1,bob,6
w1,cat,8
w3,ann,7
w3,bob
w3,cat,12
,dan,5
w10,ann,4
w10,bob,4
w10,cat,5
w10,dan,5
";
        let report = check_text(text).expect("the header is right");
        assert_eq!(report.annotations, 15);
        assert_eq!(report.wines, 4);
        assert_eq!(
            report.resolved,
            [("w10".to_owned(), 4), ("w2".to_owned(), 6)]
        );
        assert_eq!(report.labels_csv(), "wine,quality\nw10,4\nw2,6\n");
        assert_eq!(
            report.review_csv(),
            "wine,reason,grades\nw1,disagreement,5;6;8\nw3,too_few,7\n"
        );
        let json: serde_json::Value = serde_json::from_str(&report.summary_json()).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "annotations": 15,
                "wines": 4,
                "resolved": 2,
                "problems": {
                    "malformed": 2,
                    "out_of_scale": 1,
                    "repeated": 1,
                    "too_few": 1,
                    "disagreement": 1
                },
                "labels": {"w10": 4, "w2": 6}
            })
        );
        assert!(report.summary_text().contains("disagreement"));
    }

    #[test]
    fn a_wrong_header_refuses_the_file() {
        for text in ["", "wine,grade\nw1,5\n", "wine,annotator,quality\n"] {
            let err = check_text(text).expect_err(text);
            assert!(err.to_string().contains("the header is wrong"), "{err}");
        }
        let empty = check_text("wine,annotator,grade\r\n").expect("valid");
        assert_eq!((empty.annotations, empty.wines), (0, 0));
        assert_eq!(empty.problems.len(), 5);
    }
}
