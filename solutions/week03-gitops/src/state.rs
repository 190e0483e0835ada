//! State files: `[[deployment]]` tables in TOML, one per deployment.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One model deployment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    pub name: String,
    /// Container image, pinned to a tag or a digest.
    pub image: String,
    pub replicas: u32,
    /// Version of the model artifact the service loads.
    pub model_version: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    #[serde(default)]
    deployment: Vec<Deployment>,
}

/// A whole state, keyed by name. A `BTreeMap` iterates in name order, which
/// is what makes every plan come out in the same order.
pub type State = BTreeMap<String, Deployment>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not TOML, or not the shape of a state file.
    #[error("line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("deployment `{0}` is declared twice")]
    Duplicate(String),
    #[error("deployment `{name}`: `{field}` {reason}")]
    Invalid {
        name: String,
        field: &'static str,
        reason: &'static str,
    },
}

/// Parses and checks one state file.
pub fn parse_state(text: &str) -> Result<State, StateError> {
    let mut state = State::new();
    add_state(&mut state, text)?;
    Ok(state)
}

/// Parses one state file into `state`, which may already hold deployments
/// from other files: a name declared in two files is a duplicate too.
pub fn add_state(state: &mut State, text: &str) -> Result<(), StateError> {
    let file: StateFile = toml::from_str(text).map_err(|e| StateError::Parse {
        line: e
            .span()
            .map_or(1, |span| text[..span.start].matches('\n').count() + 1),
        // toml's Display draws the line over several lines; one is enough.
        message: e.message().trim().to_owned(),
    })?;
    for deployment in file.deployment {
        check_deployment(&deployment)?;
        let name = deployment.name.clone();
        if state.insert(name.clone(), deployment).is_some() {
            return Err(StateError::Duplicate(name));
        }
    }
    Ok(())
}

fn check_deployment(d: &Deployment) -> Result<(), StateError> {
    let invalid = |field, reason| StateError::Invalid {
        name: d.name.clone(),
        field,
        reason,
    };
    let dns_label = (1..=63).contains(&d.name.len())
        && d.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !d.name.starts_with('-')
        && !d.name.ends_with('-');
    if !dns_label {
        return Err(invalid(
            "name",
            "must be 1 to 63 lowercase letters, digits or '-'",
        ));
    }
    // lab:solution
    // A tag after the last '/', or a digest: `latest` or no tag at all would
    // let the same desired state mean different images on different days.
    let last = d.image.rsplit('/').next().unwrap_or_default();
    let pinned = d.image.contains("@sha256:")
        || last
            .split_once(':')
            .is_some_and(|(_, tag)| !tag.is_empty() && tag != "latest");
    if !pinned {
        return Err(invalid(
            "image",
            "must be pinned to a tag other than `latest` or to a digest",
        ));
    }
    // lab:starter
    // // TODO(week 3): refuse an image that is not pinned: it must end in a tag
    // // other than `latest` (`name:0.3.0`) or carry a digest (`name@sha256:...`).
    // // Return `invalid("image", "...")` naming the problem.
    // lab:end
    if d.replicas > 50 {
        return Err(invalid("replicas", "must be at most 50"));
    }
    if d.model_version.trim().is_empty() {
        return Err(invalid("model_version", "must not be empty"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // lab:solution
    const ONE: &str = "[[deployment]]\nname = \"wine-service\"\n\
        image = \"registry.example.com/wine-service:0.3.0\"\nreplicas = 3\n\
        model_version = \"tree-d10-5f2c9a1b7e3d\"\n";

    #[test]
    fn a_valid_file_parses() {
        let state = parse_state(ONE).expect("valid");
        assert_eq!(state["wine-service"].replicas, 3);
        assert!(parse_state("").expect("empty is valid").is_empty());
    }

    #[test]
    fn errors_name_the_line_or_the_field() {
        let err =
            parse_state("[[deployment]]\nname = \"x\"\nreplicas = three\n").expect_err("refused");
        assert!(matches!(err, StateError::Parse { line: 3, .. }), "{err}");
        assert_eq!(err.to_string().lines().count(), 1, "{err}");
        let err = parse_state(&ONE.replace(":0.3.0", ":latest")).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "deployment `wine-service`: `image` must be pinned to a tag other than `latest` or to a digest"
        );
        let err = parse_state(&format!("{ONE}\n{ONE}")).expect_err("refused");
        assert_eq!(err, StateError::Duplicate("wine-service".into()));
        let err = parse_state(&ONE.replace("replicas = 3", "replicas = 500")).expect_err("refused");
        assert!(err.to_string().contains("`replicas`"), "{err}");
    }
    // lab:starter
    // #[test]
    // fn an_empty_file_is_an_empty_state() {
    //     assert!(parse_state("").expect("empty is valid").is_empty());
    // }
    // lab:end
}
