//! The Docker Compose labels mmctl writes and searches by, so `docker ps`, `docker-compose ps`
//! and `docker compose ps` see mmctl's containers, networks and volumes as compose's own.

use std::collections::HashMap;

use super::compose::LoadedCompose;

/// `com.docker.compose.project`: the project (stack) name.
pub const PROJECT: &str = "com.docker.compose.project";
/// `com.docker.compose.service`: the service name.
pub const SERVICE: &str = "com.docker.compose.service";
/// `com.docker.compose.config-hash`: sha256 of the service's resolved definition.
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
/// `com.docker.compose.container-number`: replica index (always 1 here).
pub const CONTAINER_NUMBER: &str = "com.docker.compose.container-number";
/// `com.docker.compose.oneoff`: `False` for service containers (compose's spelling).
pub const ONEOFF: &str = "com.docker.compose.oneoff";
/// `com.docker.compose.project.working_dir`: directory of the compose file.
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
/// `com.docker.compose.project.config_files`: the compose file path.
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
/// `com.docker.compose.network`: network name inside the project.
pub const NETWORK: &str = "com.docker.compose.network";
/// `com.docker.compose.volume`: volume name inside the project.
pub const VOLUME: &str = "com.docker.compose.volume";
/// `com.docker.compose.version`: the compose format version the objects follow.
pub const VERSION: &str = "com.docker.compose.version";
/// Marks objects created by mmctl (as opposed to docker-compose).
pub const CREATED_BY: &str = "org.mmkt.created-by";

/// Compose version string written to [`VERSION`] (the compose release whose behaviour we follow).
pub const COMPOSE_VERSION: &str = "1.29.2";

/// Labels of a service container.
pub fn container_labels(
    project: &str,
    service: &str,
    config_hash: &str,
    compose: &LoadedCompose,
) -> HashMap<String, String> {
    let mut l = HashMap::new();
    l.insert(PROJECT.into(), project.into());
    l.insert(SERVICE.into(), service.into());
    l.insert(CONFIG_HASH.into(), config_hash.into());
    l.insert(CONTAINER_NUMBER.into(), "1".into());
    l.insert(ONEOFF.into(), "False".into());
    l.insert(
        WORKING_DIR.into(),
        compose.dir.to_string_lossy().into_owned(),
    );
    l.insert(
        CONFIG_FILES.into(),
        compose.path.to_string_lossy().into_owned(),
    );
    l.insert(VERSION.into(), COMPOSE_VERSION.into());
    l.insert(CREATED_BY.into(), "mmctl".into());
    l
}

/// Labels of a project network.
pub fn network_labels(project: &str, network: &str) -> HashMap<String, String> {
    object_labels(project, NETWORK, network)
}

/// Labels of a project volume.
pub fn volume_labels(project: &str, volume: &str) -> HashMap<String, String> {
    object_labels(project, VOLUME, volume)
}

/// Labels of a project network or volume: the project, `name_key` ([`NETWORK`] or [`VOLUME`])
/// set to the name inside the project, the compose version and the creator mark.
fn object_labels(project: &str, name_key: &str, name: &str) -> HashMap<String, String> {
    HashMap::from([
        (PROJECT.to_string(), project.to_string()),
        (name_key.to_string(), name.to_string()),
        (VERSION.to_string(), COMPOSE_VERSION.to_string()),
        (CREATED_BY.to_string(), "mmctl".to_string()),
    ])
}

/// Engine API list filter `label=KEY=VALUE` for a project (and optionally a service).
pub fn filter(project: &str, service: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut labels = vec![format!("{PROJECT}={project}")];
    if let Some(s) = service {
        labels.push(format!("{SERVICE}={s}"));
    }
    HashMap::from([("label".to_string(), labels)])
}

/// The value of label `key` on a listed container (empty when it has none).
pub fn of(container: &bollard::models::ContainerSummary, key: &str) -> String {
    container
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .cloned()
        .unwrap_or_default()
}
