//! One small file read out of an image, without running it: a container is
//! created (never started), the file copied out, the container removed.

use super::{labels, sweep};
use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
};
use futures_util::StreamExt;
use std::io::Read;

/// The largest file read: these are short lists.
const CAP: usize = 4 << 20;

/// The file at `path` in `image`, or `None` when it has none (or it is not a
/// regular file, or it is over the cap).
pub async fn read(
    docker: &Docker,
    image: &str,
    path: &str,
    lab: &str,
) -> Result<Option<Vec<u8>>, bollard::errors::Error> {
    read_up_to(docker, image, path, lab, CAP).await
}

/// [`read`], with a cap of `cap` bytes instead of the lists' 4 MiB (a
/// program copied out of an image).
pub async fn read_up_to(
    docker: &Docker,
    image: &str,
    path: &str,
    lab: &str,
    cap: usize,
) -> Result<Option<Vec<u8>>, bollard::errors::Error> {
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        labels: Some(labels::for_role("reader", lab)),
        network_disabled: Some(true),
        // Never started; an entrypoint is needed only to create it.
        entrypoint: Some(vec!["/nonexistent".into()]),
        ..Default::default()
    };
    let name = labels::unique("grader-read");
    let opts = CreateContainerOptionsBuilder::default().name(&name).build();
    let id = docker.create_container(Some(opts), body).await?.id;
    let tar = download(docker, &id, path, cap).await;
    sweep::remove_container(docker, &id).await?;
    Ok(tar.and_then(|tar| only_file(&tar, cap)))
}

async fn download(docker: &Docker, id: &str, path: &str, cap: usize) -> Option<Vec<u8>> {
    let opts = DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let mut stream = docker.download_from_container(id, Some(opts));
    let mut tar = Vec::new();
    while let Some(chunk) = stream.next().await {
        let bytes = chunk.ok()?;
        if tar.len() + bytes.len() > cap + (1 << 20) {
            return None;
        }
        tar.extend_from_slice(&bytes);
    }
    Some(tar)
}

/// The one regular file of a tar.
fn only_file(tar: &[u8], cap: usize) -> Option<Vec<u8>> {
    let mut archive = tar::Archive::new(tar);
    let mut entry = archive.entries().ok()?.next()?.ok()?;
    if !entry.header().entry_type().is_file() || entry.size() > cap as u64 {
        return None;
    }
    let mut data = Vec::new();
    entry.read_to_end(&mut data).ok()?;
    Some(data)
}
