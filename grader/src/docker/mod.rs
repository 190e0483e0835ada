//! Everything that talks to the Docker Engine: connecting, labels, building the
//! submission's image, the sandbox it runs in, the probe that reaches it, the
//! runs of command-line checks, and the sweep that removes what a crashed run left behind.

pub mod bases;
pub mod build;
pub mod command;
pub mod dockerfile;
pub mod fetch;
pub mod image_file;
pub mod labels;
pub mod output;
pub mod probe;
pub mod relay;
pub mod sandbox;
pub mod sweep;

use bollard::Docker;

/// Connects to the engine `DOCKER_HOST` names (`unix://` or `tcp://`; the local
/// socket when unset) and agrees on an API version with it (the engine may be
/// older than the client: Debian's 20.10 speaks API 1.41).
pub async fn connect() -> Result<Docker, bollard::errors::Error> {
    let docker = Docker::connect_with_defaults()?;
    let docker = docker.negotiate_version().await?;
    docker.ping().await?;
    Ok(docker)
}

/// True for the "no such container/image" answers that teardown may meet.
pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Whether the engine has the OCI runtime `name` (`runc`, gVisor's `runsc`, ...).
/// The error names the runtimes it does have.
pub async fn check_runtime(docker: &Docker, name: &str) -> Result<(), String> {
    let info = docker
        .info()
        .await
        .map_err(|e| format!("cannot ask the Docker engine for its runtimes: {e}"))?;
    let known: Vec<String> = info.runtimes.unwrap_or_default().into_keys().collect();
    if known.iter().any(|k| k == name) {
        Ok(())
    } else {
        Err(format!(
            "the container runtime \"{name}\" is not installed in this Docker engine (it has: {})",
            known.join(", ")
        ))
    }
}
