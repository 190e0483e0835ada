//! Image hygiene, read from the image's configuration: nothing of it runs.

use super::{Outcome, Problem};
use crate::spec::ImageRule;
use bollard::models::ImageInspect;

/// What the checks need to know of the built image.
#[derive(Debug, Clone, Default)]
pub struct ImageFacts {
    pub user: String,
    pub size_bytes: u64,
    pub exposed_ports: Vec<String>,
    pub labels: std::collections::HashMap<String, String>,
    pub volumes: Vec<String>,
    /// The ENTRYPOINT, which names the program a student types.
    pub entrypoint: Vec<String>,
}

impl From<&ImageInspect> for ImageFacts {
    fn from(i: &ImageInspect) -> Self {
        let config = i.config.clone().unwrap_or_default();
        ImageFacts {
            user: config.user.unwrap_or_default(),
            size_bytes: i.size.unwrap_or(0).max(0) as u64,
            exposed_ports: config.exposed_ports.unwrap_or_default(),
            labels: config.labels.unwrap_or_default(),
            volumes: config.volumes.unwrap_or_default(),
            entrypoint: config.entrypoint.unwrap_or_default(),
        }
    }
}

pub fn check(rule: &ImageRule, facts: &ImageFacts) -> Outcome {
    match rule {
        ImageRule::NonRoot => {
            let user = facts.user.trim();
            let name = user.split(':').next().unwrap_or("");
            if name.is_empty() {
                Err(Problem::Fail(
                    "the image sets no USER, so it would run as root; add `USER 65532:65532` (or another non-root user) to the final stage".into(),
                ))
            } else if name == "root" || name == "0" {
                Err(Problem::Fail(format!(
                    "the image runs as `{user}`, which is root; switch to a non-root user in the final stage"
                )))
            } else {
                Ok(())
            }
        }
        ImageRule::MaxSize { max_mb } => {
            let mb = facts.size_bytes as f64 / 1e6;
            if facts.size_bytes <= max_mb * 1_000_000 {
                Ok(())
            } else {
                Err(Problem::Fail(format!(
                    "the image is {mb:.1} MB, over {max_mb} MB; build in one stage and copy only the binary and the model into a small final image"
                )))
            }
        }
        ImageRule::Exposes { port } => {
            let want = format!("{port}/tcp");
            if facts.exposed_ports.iter().any(|p| p == &want) {
                Ok(())
            } else {
                Err(Problem::Fail(format!(
                    "the image does not EXPOSE {port} (it exposes: {}); add `EXPOSE {port}`",
                    if facts.exposed_ports.is_empty() {
                        "nothing".to_string()
                    } else {
                        facts.exposed_ports.join(", ")
                    }
                )))
            }
        }
        ImageRule::Label { label } => match facts.labels.get(label) {
            Some(v) if !v.trim().is_empty() => Ok(()),
            _ => Err(Problem::Fail(format!(
                "the image has no `{label}` label; add `LABEL {label}=\"...\"`"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_root_means_a_user_that_is_not_root() {
        let mut f = ImageFacts::default();
        assert!(check(&ImageRule::NonRoot, &f).is_err());
        for root in ["root", "0", "0:0", "root:root"] {
            f.user = root.into();
            assert!(check(&ImageRule::NonRoot, &f).is_err(), "{root}");
        }
        for ok in ["65532:65532", "nonroot", "10001"] {
            f.user = ok.into();
            assert!(check(&ImageRule::NonRoot, &f).is_ok(), "{ok}");
        }
    }

    #[test]
    fn size_port_and_labels() {
        let f = ImageFacts {
            size_bytes: 65_000_000,
            exposed_ports: vec!["8080/tcp".into()],
            labels: [(
                "org.opencontainers.image.title".to_string(),
                "wine".to_string(),
            )]
            .into(),
            ..Default::default()
        };
        assert!(check(&ImageRule::MaxSize { max_mb: 64 }, &f).is_err());
        assert!(check(&ImageRule::MaxSize { max_mb: 65 }, &f).is_ok());
        assert!(check(&ImageRule::Exposes { port: 8080 }, &f).is_ok());
        assert!(check(&ImageRule::Exposes { port: 80 }, &f).is_err());
        let l = |s: &str| ImageRule::Label { label: s.into() };
        assert!(check(&l("org.opencontainers.image.title"), &f).is_ok());
        assert!(check(&l("org.opencontainers.image.source"), &f).is_err());
    }
}
