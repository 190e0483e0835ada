//! The plan: what would make the live state equal to the desired state.

// lab:solution
use std::collections::BTreeSet;
// lab:end
use std::fmt;

use crate::state::{Deployment, State};

/// One field that differs between live and desired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: &'static str,
    pub live: String,
    pub desired: String,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create(Deployment),
    Update {
        desired: Deployment,
        changes: Vec<FieldChange>,
    },
    Delete(Deployment),
}

/// The steps that take the live state to the desired one, in name order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub actions: Vec<Action>,
}

/// Compares desired and live state. A pure function: the same two states
/// always give the same plan, in the same order.
pub fn plan(desired: &State, live: &State) -> Plan {
    // lab:solution
    let names: BTreeSet<&String> = desired.keys().chain(live.keys()).collect();
    let actions = names
        .into_iter()
        .filter_map(|name| match (desired.get(name), live.get(name)) {
            (Some(want), None) => Some(Action::Create(want.clone())),
            (None, Some(have)) => Some(Action::Delete(have.clone())),
            (Some(want), Some(have)) => {
                let changes = diff_fields(have, want);
                (!changes.is_empty()).then(|| Action::Update {
                    desired: want.clone(),
                    changes,
                })
            }
            (None, None) => None,
        })
        .collect();
    Plan { actions }
    // lab:starter
    // // TODO(week 3): walk the names of both states in name order (a
    // // `BTreeSet` of the keys of both maps does it) and classify each name:
    // // only in `desired` -> `Action::Create`; only in `live` -> `Action::Delete`;
    // // in both but different -> `Action::Update` with the fields that changed
    // // (`diff_fields` below); in both and equal -> nothing.
    // let _ = (desired, live, diff_fields);
    // Plan::default()
    // lab:end
}

/// Only the fields that differ, in a fixed order.
fn diff_fields(live: &Deployment, desired: &Deployment) -> Vec<FieldChange> {
    [
        ("image", live.image.clone(), desired.image.clone()),
        (
            "replicas",
            live.replicas.to_string(),
            desired.replicas.to_string(),
        ),
        (
            "model_version",
            live.model_version.clone(),
            desired.model_version.clone(),
        ),
    ]
    .into_iter()
    .filter(|(_, have, want)| have != want)
    .map(|(field, live, desired)| FieldChange {
        field,
        live,
        desired,
    })
    .collect()
}

impl fmt::Display for Plan {
    /// `+` create, `~` update (changed fields only), `-` delete, then a summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.actions.is_empty() {
            return writeln!(f, "No changes: live state matches desired state.");
        }
        let (mut create, mut update, mut delete) = (0, 0, 0);
        for action in &self.actions {
            match action {
                Action::Create(d) => {
                    create += 1;
                    writeln!(
                        f,
                        "+ create {} (image={}, replicas={}, model_version={})",
                        d.name, d.image, d.replicas, d.model_version
                    )?;
                }
                Action::Update { desired, changes } => {
                    update += 1;
                    writeln!(f, "~ update {}", desired.name)?;
                    for c in changes {
                        writeln!(f, "    {}: {} -> {}", c.field, c.live, c.desired)?;
                    }
                }
                Action::Delete(d) => {
                    delete += 1;
                    writeln!(f, "- delete {}", d.name)?;
                }
            }
        }
        writeln!(
            f,
            "Plan: {create} to create, {update} to update, {delete} to delete."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::parse_state;

    // lab:solution
    const DESIRED: &str = r#"
[[deployment]]
name = "wine-service"
image = "registry.example.com/wine-service:0.3.0"
replicas = 3
model_version = "tree-d10-5f2c9a1b7e3d"

[[deployment]]
name = "wine-canary"
image = "registry.example.com/wine-service:0.4.0-rc.1"
replicas = 1
model_version = "tree-d10-0a9e4411c2b8"
"#;

    const LIVE: &str = r#"
[[deployment]]
name = "wine-service"
image = "registry.example.com/wine-service:0.2.1"
replicas = 2
model_version = "tree-d10-5f2c9a1b7e3d"

[[deployment]]
name = "wine-legacy"
image = "registry.example.com/wine-service:0.1.0"
replicas = 1
model_version = "tree-d4-77aa01c3e9f2"
"#;

    fn state(text: &str) -> State {
        parse_state(text).expect("valid fixture")
    }

    #[test]
    fn the_plan_creates_updates_and_deletes_in_name_order() {
        let text = plan(&state(DESIRED), &state(LIVE)).to_string();
        assert_eq!(
            text,
            "+ create wine-canary (image=registry.example.com/wine-service:0.4.0-rc.1, replicas=1, model_version=tree-d10-0a9e4411c2b8)\n\
             - delete wine-legacy\n\
             ~ update wine-service\n    image: registry.example.com/wine-service:0.2.1 -> registry.example.com/wine-service:0.3.0\n    replicas: 2 -> 3\n\
             Plan: 1 to create, 1 to update, 1 to delete.\n"
        );
    }

    #[test]
    fn equal_states_plan_nothing() {
        let p = plan(&state(DESIRED), &state(DESIRED));
        assert!(p.actions.is_empty());
        assert_eq!(
            p.to_string(),
            "No changes: live state matches desired state.\n"
        );
    }
    // lab:starter
    // // TODO(week 3): once `plan` works, this test passes. Add one for the
    // // empty plan, and one showing that applying a plan converges.
    // #[test]
    // #[ignore = "passes once plan() is written"]
    // fn a_new_deployment_is_created() {
    //     let desired = parse_state(
    //         "[[deployment]]\nname = \"wine-service\"\n\
    //          image = \"registry.example.com/wine-service:0.3.0\"\n\
    //          replicas = 3\nmodel_version = \"tree-d10-5f2c9a1b7e3d\"\n",
    //     )
    //     .expect("valid");
    //     let p = plan(&desired, &State::new());
    //     assert!(matches!(p.actions.as_slice(), [Action::Create(d)] if d.name == "wine-service"));
    // }
    // lab:end
}
