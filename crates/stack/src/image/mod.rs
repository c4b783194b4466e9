//! Offline images: create the `debian:bookworm-slim` base with debootstrap and import it
//! (`POST /images/create?fromSrc=-`), build the project's images from streamed tar contexts
//! (`POST /build`, legacy builder), and move images between hosts (`GET /images/get`,
//! `POST /images/load`). No registry is ever contacted.
//!
//! The base image lives in `base.rs`, the project's builds in `build.rs`, save and load of
//! archives for air-gapped hosts in `archive.rs`; everything is re-exported here.

mod archive;
mod base;
mod build;

pub use archive::{load_images, save_images};
pub use base::{BaseOptions, BaseOutcome, DEFAULT_MIRROR, bootstrap_base, host_debian_mirror};
pub use build::{
    BuildEvent, BuildJob, BuildTarget, CARGO_BINARY_KEY, CachePolicy, build_image, build_images,
    build_targets, find_cargo_binary, plan_builds,
};

use crate::engine::Engine;
use crate::error::{StackError, is_not_found};
use crate::stack::Project;

/// The base image every project image starts FROM.
pub const BASE_IMAGE: &str = "debian:bookworm-slim";

/// Local image ID of `image`, or `None` when it is not present (`GET /images/{name}/json`).
///
/// # Errors
/// [`StackError::Engine`] / [`StackError::Unreachable`].
pub async fn image_id(engine: &Engine, image: &str) -> Result<Option<String>, StackError> {
    match engine.docker().inspect_image(image).await {
        Ok(info) => Ok(info.id),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(engine.err(format!("inspect image {image}"), e)),
    }
}

/// Every image the enabled services of `project` run, plus [`BASE_IMAGE`], sorted and
/// deduplicated: what `mmctl image save` writes when no `--image` is given.
pub fn project_images(project: &Project) -> Vec<String> {
    let file = &project.compose.file;
    let mut images: Vec<String> = file
        .enabled_services(&project.profiles)
        .iter()
        .map(|s| file.services[s].image_ref().to_string())
        .collect();
    images.push(BASE_IMAGE.to_string());
    images.sort();
    images.dedup();
    images
}

/// The short form of an image ID for messages: at most 12 hex digits, without `sha256:`.
pub fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::short_id;

    #[test]
    fn short_id_drops_the_digest_prefix() {
        assert_eq!(short_id("sha256:0123456789abcdef0123"), "0123456789ab");
        assert_eq!(short_id("abc"), "abc");
    }
}
