//! The rubric table a chapter shows, generated from the lab's specification so
//! that the book and the grader cannot drift apart.

use crate::spec::{LabSpec, Visibility};

/// A Markdown table of the lab's checks, in rubric order.
pub fn rubric_markdown(lab: &LabSpec) -> String {
    let mut out = format!(
        "<!-- generated from grader/labs/{}/lab.toml by `grader rubric {}`; do not edit -->\n\n",
        lab.id, lab.id
    );
    out.push_str("| check | points | visibility | what it checks |\n|---|---:|---|---|\n");
    for c in &lab.checks {
        let visibility = match c.visibility {
            Visibility::Visible => "visible",
            Visibility::Hidden => "hidden",
        };
        out.push_str(&format!(
            "| `{}` | {} | {visibility} | {} |\n",
            c.id,
            c.points,
            c.title.replace('|', "\\|")
        ));
    }
    out.push_str(&format!("| **total** | **{}** | | |\n", lab.max_points()));
    out
}
