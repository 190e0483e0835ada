//! Week 15: checking the final project's report the way the grader does.
//!
//! The report is Markdown. The checker finds its `##` sections, matches them
//! against the required ones (by title or an accepted alias, ignoring case,
//! numbering and punctuation), counts the words of prose in each (code
//! blocks, tables' rules and bare symbols do not count), flags placeholders,
//! and prints a table a student can act on.

// ANCHOR: rules
// ANCHOR: rules_first
/// One section the report must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionRule {
    /// The title the template uses.
    pub title: &'static str,
    /// Other titles accepted for the same section.
    pub aliases: &'static [&'static str],
    /// Fewer words of prose than this is not an answer yet.
    pub min_words: usize,
}

/// The sections of the final project's report, in the template's order.
pub const REPORT_SECTIONS: &[SectionRule] = &[
    SectionRule {
        title: "Problem and users",
        aliases: &["Problem", "Problem statement"],
        min_words: 100,
    },
    SectionRule {
        title: "Architecture",
        aliases: &["System architecture", "System design"],
        min_words: 150,
    },
    SectionRule {
        title: "Data and model",
        aliases: &["Data", "Model"],
        min_words: 120,
    },
    SectionRule {
        title: "Reproducibility",
        aliases: &["Reproducible pipeline", "Pipeline"],
        min_words: 80,
    },
    // ANCHOR_END: rules_first
    // ANCHOR: rules_rest
    SectionRule {
        title: "Deployment",
        aliases: &["Deployment and operations", "Operations"],
        min_words: 100,
    },
    SectionRule {
        title: "Security",
        aliases: &["Threat model", "Security and threat model"],
        min_words: 100,
    },
    SectionRule {
        title: "Monitoring",
        aliases: &["Monitoring and retraining", "Observability"],
        min_words: 80,
    },
    SectionRule {
        title: "Decisions and trade-offs",
        aliases: &["Design decisions", "Trade-offs"],
        min_words: 100,
    },
    SectionRule {
        title: "Limitations and future work",
        aliases: &["Limitations"],
        min_words: 60,
    },
];
// ANCHOR_END: rules_rest
// ANCHOR_END: rules

// ANCHOR: parse
// ANCHOR: parse_section
/// A `##` section of a Markdown document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The heading as written, without the `##`.
    pub heading: String,
    /// 1-based line of the heading, for messages.
    pub line: usize,
    /// Words of prose from the heading to the next `#` or `##` heading;
    /// `###` subsections count towards their section.
    pub words: usize,
    /// The section still holds template text such as `TODO` or `TBD`.
    pub placeholder: bool,
}
// ANCHOR_END: parse_section

// ANCHOR: parse_lines
/// An ATX heading's level and text: `## Security` gives `(2, "Security")`.
fn heading(line: &str) -> Option<(usize, &str)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None; // four spaces of indent make a code block
    }
    let level = trimmed.chars().take_while(|&c| c == '#').count();
    let rest = &trimmed[level..];
    if !(1..=6).contains(&level) || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None; // `#hashtag` and `#######` are not headings
    }
    Some((level, rest.trim().trim_end_matches('#').trim_end()))
}

/// Counts the words of prose in a line: tokens with a letter or a digit.
/// Table rules (`|---|`), list bullets and lone symbols are not words.
fn prose_words(line: &str) -> usize {
    line.split_whitespace()
        .filter(|token| token.chars().any(char::is_alphanumeric))
        .count()
}

fn is_placeholder(line: &str) -> bool {
    line.split(|c: char| !c.is_alphanumeric())
        .any(|word| matches!(word, "TODO" | "TBD" | "FIXME" | "XXX"))
        || line.to_lowercase().contains("lorem ipsum")
}
// ANCHOR_END: parse_lines

// ANCHOR: parse_sections
/// Splits a Markdown document into its `##` sections. Fenced code blocks are
/// skipped: a `## heading` inside one is not a heading, and code is not prose.
pub fn sections(markdown: &str) -> Vec<Section> {
    let mut found: Vec<Section> = Vec::new();
    let mut fence: Option<&str> = None;
    // Prose under a `#` title or before any heading belongs to no section.
    let mut in_section = false;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(marker) = fence {
            if trimmed.starts_with(marker) {
                fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") {
            fence = Some("```");
            continue;
        }
        if trimmed.starts_with("~~~") {
            fence = Some("~~~");
            continue;
        }
        match heading(line) {
            Some((2, text)) => {
                found.push(Section {
                    heading: text.to_owned(),
                    line: i + 1,
                    words: 0,
                    placeholder: false,
                });
                in_section = true;
            }
            Some((1, _)) => in_section = false,
            // A deeper heading's words belong to the section above it.
            _ if in_section => {
                let section = found.last_mut().expect("in_section implies a section");
                section.words += prose_words(line);
                section.placeholder |= is_placeholder(line);
            }
            _ => {}
        }
    }
    found
}
// ANCHOR_END: parse_sections
// ANCHOR_END: parse

// ANCHOR: check
// ANCHOR: check_normalise
/// Lower-cases, drops numbering (`3.`, `2)`, `IV.`) and punctuation, and
/// spells `&` as `and`, so `## 3. Data & Model` matches "Data and model".
pub fn normalise(title: &str) -> String {
    let title = title.to_lowercase().replace('&', " and ");
    let words: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let is_numbering = |w: &str| {
        w.chars().all(|c| c.is_ascii_digit())
            || (w.len() <= 4 && w.chars().all(|c| matches!(c, 'i' | 'v' | 'x')))
    };
    let start = words.iter().take_while(|w| is_numbering(w)).count();
    words[start..].join(" ")
}
// ANCHOR_END: check_normalise

// ANCHOR: check_types
/// What the checker concluded about one required section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Ok,
    Missing,
    TooShort { words: usize, min: usize },
    Placeholder,
}

/// One row of the report check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub rule: SectionRule,
    /// The matching section's heading and line, if one was found.
    pub found: Option<(String, usize)>,
    pub words: usize,
    pub status: Status,
}

/// The whole check: one row per required section, in the rules' order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportCheck {
    pub rows: Vec<Row>,
}
// ANCHOR_END: check_types

// ANCHOR: check_run
/// Checks a report against the rules. When a section appears twice, the
/// first one is judged: a report should not have two answers to one question.
pub fn check_report(markdown: &str, rules: &[SectionRule]) -> ReportCheck {
    let found = sections(markdown);
    let rows = rules
        .iter()
        .map(|rule| {
            let names: Vec<String> = std::iter::once(rule.title)
                .chain(rule.aliases.iter().copied())
                .map(normalise)
                .collect();
            let section = found
                .iter()
                .find(|s| names.contains(&normalise(&s.heading)));
            let (status, words) = match section {
                None => (Status::Missing, 0),
                Some(s) if s.placeholder => (Status::Placeholder, s.words),
                Some(s) if s.words < rule.min_words => (
                    Status::TooShort {
                        words: s.words,
                        min: rule.min_words,
                    },
                    s.words,
                ),
                Some(s) => (Status::Ok, s.words),
            };
            Row {
                rule: *rule,
                found: section.map(|s| (s.heading.clone(), s.line)),
                words,
                status,
            }
        })
        .collect();
    ReportCheck { rows }
}
// ANCHOR_END: check_run

// ANCHOR: check_score
impl ReportCheck {
    pub fn passed(&self) -> usize {
        self.rows.iter().filter(|r| r.status == Status::Ok).count()
    }

    /// Points out of `max`, shared equally by the sections, rounded down
    /// (no sections, no points).
    pub fn points(&self, max: u32) -> u32 {
        let total = u32::try_from(self.rows.len()).expect("a handful of sections");
        let passed = u32::try_from(self.passed()).expect("a handful of sections");
        (max * passed).checked_div(total).unwrap_or(0)
    }
    // ANCHOR_END: check_score

    // ANCHOR: check_table
    /// The table the grader prints: one line per section, with what to fix.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("| section | found | words | verdict |\n|---|---|---:|---|\n");
        for row in &self.rows {
            let found = match &row.found {
                Some((heading, line)) => format!("line {line}: {heading}"),
                None => "-".to_owned(),
            };
            let verdict = match &row.status {
                Status::Ok => "ok".to_owned(),
                Status::Missing => format!("missing: add `## {}`", row.rule.title),
                Status::TooShort { words, min } => {
                    format!("too short: {words} of {min} words")
                }
                Status::Placeholder => "placeholder text left (TODO, TBD, ...)".to_owned(),
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                row.rule.title, found, row.words, verdict
            ));
        }
        out.push_str(&format!(
            "\n{} of {} sections pass.\n",
            self.passed(),
            self.rows.len()
        ));
        out
    }
}
// ANCHOR_END: check_table
// ANCHOR_END: check

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` words of filler prose.
    fn words(n: usize) -> String {
        (0..n)
            .map(|i| format!("word{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    const SMALL: &[SectionRule] = &[
        SectionRule {
            title: "Architecture",
            aliases: &["System design"],
            min_words: 10,
        },
        SectionRule {
            title: "Data and model",
            aliases: &[],
            min_words: 10,
        },
        SectionRule {
            title: "Security",
            aliases: &["Threat model"],
            min_words: 10,
        },
    ];

    #[test]
    fn headings_are_found_and_words_counted_to_the_next_section() {
        let doc = format!(
            "# Wine service report\n\nIntro words here.\n\n## Architecture\n\n{}\n\n\
             ### Components\n\n{}\n\n## Security\n\n{}\n",
            words(7),
            words(5),
            words(3)
        );
        let found = sections(&doc);
        let summary: Vec<(&str, usize, usize)> = found
            .iter()
            .map(|s| (s.heading.as_str(), s.line, s.words))
            .collect();
        // The `###` heading's own word counts towards Architecture too.
        assert_eq!(
            summary,
            [("Architecture", 5, 7 + 1 + 5), ("Security", 13, 3)]
        );
    }

    #[test]
    fn code_blocks_are_neither_headings_nor_prose() {
        let doc = "## Deployment\n\nWe run it.\n\n```sh\n## not a heading\n\
                   docker run --rm wine-service\n```\n\n~~~yaml\nreplicas: 2\n~~~\n";
        let found = sections(doc);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].words, 3);
    }

    #[test]
    fn only_real_atx_headings_count() {
        assert_eq!(heading("## Security ##"), Some((2, "Security")));
        assert_eq!(heading("   ## Indented"), Some((2, "Indented")));
        assert_eq!(heading("    ## code"), None);
        assert_eq!(heading("##NoSpace"), None);
        assert_eq!(heading("####### seven"), None);
        assert_eq!(heading("#"), Some((1, "")));
    }

    #[test]
    fn symbols_and_table_rules_are_not_words() {
        assert_eq!(prose_words("| --- | ---: |"), 0);
        assert_eq!(prose_words("- p95 latency is 12 ms -> fine"), 6);
    }

    #[test]
    fn titles_match_despite_case_numbering_and_punctuation() {
        assert_eq!(normalise("3. Data & Model"), "data and model");
        assert_eq!(normalise("IV) Security:"), "security");
        assert_eq!(
            normalise("Decisions and Trade-offs"),
            "decisions and trade offs"
        );
        let doc = format!(
            "## 1. System Design\n{}\n## 2) DATA & MODEL\n{}\n## Threat model\n{}\n",
            words(10),
            words(10),
            words(10)
        );
        let check = check_report(&doc, SMALL);
        assert_eq!(check.passed(), 3);
        assert_eq!(
            check.rows[0].found,
            Some(("1. System Design".to_owned(), 1))
        );
    }

    #[test]
    fn missing_short_and_placeholder_sections_fail_with_a_reason() {
        let doc = format!(
            "## Architecture\n{}\n## Data and model\n{}\n",
            words(12),
            "TODO: describe the wine data set and the decision tree."
        );
        let check = check_report(&doc, SMALL);
        let statuses: Vec<&Status> = check.rows.iter().map(|r| &r.status).collect();
        assert_eq!(
            statuses,
            [&Status::Ok, &Status::Placeholder, &Status::Missing]
        );

        let short = check_report("## Architecture\nA box and an arrow.\n", SMALL);
        assert_eq!(short.rows[0].status, Status::TooShort { words: 5, min: 10 });
    }

    #[test]
    fn a_word_containing_todo_is_not_a_placeholder() {
        let doc = format!("## Security\nThe mastodon toolbox is fine. {}\n", words(10));
        assert_eq!(check_report(&doc, SMALL).rows[2].status, Status::Ok);
    }

    #[test]
    fn the_first_of_two_sections_is_judged() {
        let doc = format!("## Security\nToo short.\n## Security\n{}\n", words(20));
        let row = &check_report(&doc, SMALL).rows[2];
        assert_eq!(row.found, Some(("Security".to_owned(), 1)));
        assert_eq!(row.status, Status::TooShort { words: 2, min: 10 });
    }

    #[test]
    fn points_are_shared_equally_and_the_table_says_what_to_fix() {
        let doc = format!("## Architecture\n{}\n## Security\nShort.\n", words(10));
        let check = check_report(&doc, SMALL);
        assert_eq!(check.points(30), 10);
        assert_eq!(
            check.to_markdown(),
            "| section | found | words | verdict |\n\
             |---|---|---:|---|\n\
             | Architecture | line 1: Architecture | 10 | ok |\n\
             | Data and model | - | 0 | missing: add `## Data and model` |\n\
             | Security | line 3: Security | 1 | too short: 1 of 10 words |\n\
             \n1 of 3 sections pass.\n"
        );
    }

    #[test]
    fn the_course_template_with_real_answers_passes() {
        let mut doc = String::from("# Final project: wine-quality service\n\n");
        for rule in REPORT_SECTIONS {
            doc.push_str(&format!(
                "## {}\n\n{}\n\n",
                rule.title,
                words(rule.min_words)
            ));
        }
        let check = check_report(&doc, REPORT_SECTIONS);
        assert_eq!(check.passed(), REPORT_SECTIONS.len());
        assert_eq!(check.points(20), 20);
        // The empty template fails every row.
        let empty: String = REPORT_SECTIONS
            .iter()
            .map(|r| format!("## {}\n\nTODO\n\n", r.title))
            .collect();
        assert_eq!(check_report(&empty, REPORT_SECTIONS).points(20), 0);
    }
}
