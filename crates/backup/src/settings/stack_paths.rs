//! Files of the running stack found through its containers' mounts (`deploy/docker-compose.yml`):
//! the server's database and key file (the `server` container's `/app/data` and `/app/key`) and
//! node-exporter's textfile directory (the `node-textfile` volume).

use std::path::PathBuf;

use mmkt_stack::Engine;
use mmkt_stack::mounts::MountLookup;

/// The compose service whose mounts hold the database and its key.
pub const SERVER_SERVICE: &str = "server";
/// Where the server container mounts the database's volume, and the file in it
/// (`MMKT_DB_PATH=/app/data/mmkt.db` in the compose file).
pub const DB_MOUNT: (&str, &str) = ("/app/data", "mmkt.db");
/// Where the server container mounts the key's volume, and the file in it
/// (`MMKT_DB_KEY_FILE=/app/key/db.key`).
pub const KEY_MOUNT: (&str, &str) = ("/app/key", "db.key");

/// The compose service whose textfile collector reads mmctl's freshness metrics.
pub const NODE_EXPORTER_SERVICE: &str = "node-exporter";
/// Where that service mounts the `node-textfile` volume (its `--collector.textfile.directory`).
pub const TEXTFILE_MOUNT: &str = "/var/lib/prometheus/node-exporter";

/// One file (or directory) found through a mount: its host path and the volume it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFile {
    /// The file's path on this host.
    pub path: PathBuf,
    /// The named volume (or the mount's host directory for a bind mount).
    pub volume: String,
}

/// The database and key file of a running stack, or why they were not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackPaths {
    /// Both files' host paths.
    Found {
        /// The SQLCipher database (`MMKT_DB_PATH`'s default).
        db: StackFile,
        /// Its key file (`MMKT_DB_KEY_FILE`'s default).
        key_file: StackFile,
    },
    /// Not found; the text says why and what to do.
    Missing(String),
}

/// Looks up the server's database and key file in `project` through `engine`.
///
/// Engine API: `GET /containers/json`, `GET /containers/{id}/json` (`Mounts[]`).
///
/// # Errors
/// [`mmkt_stack::StackError`] when the engine fails to answer.
pub async fn server_paths(
    engine: &Engine,
    project: &str,
) -> Result<StackPaths, mmkt_stack::StackError> {
    let db = file(engine, project, DB_MOUNT).await?;
    let key_file = file(engine, project, KEY_MOUNT).await?;
    Ok(match (db, key_file) {
        (Ok(db), Ok(key_file)) => StackPaths::Found { db, key_file },
        (Err(why), _) | (_, Err(why)) => StackPaths::Missing(why),
    })
}

/// node-exporter's textfile directory in `project`: the host path of the
/// [`NODE_EXPORTER_SERVICE`] container's [`TEXTFILE_MOUNT`] mount (a local engine only), or
/// why it was not found (`Err`, with what to do).
///
/// Engine API: `GET /containers/json`, `GET /containers/{id}/json` (`Mounts[]`).
///
/// # Errors
/// [`mmkt_stack::StackError`] when the engine fails to answer.
pub async fn textfile_dir(
    engine: &Engine,
    project: &str,
) -> Result<Result<StackFile, String>, mmkt_stack::StackError> {
    mount(engine, project, NODE_EXPORTER_SERVICE, TEXTFILE_MOUNT).await
}

async fn file(
    engine: &Engine,
    project: &str,
    (mount_path, name): (&str, &str),
) -> Result<Result<StackFile, String>, mmkt_stack::StackError> {
    let found = mount(engine, project, SERVER_SERVICE, mount_path).await?;
    Ok(found.map(|dir| StackFile {
        path: dir.path.join(name),
        volume: dir.volume,
    }))
}

/// The host directory behind `service`'s mount at `mount`, or why there is none.
async fn mount(
    engine: &Engine,
    project: &str,
    service: &str,
    mount: &str,
) -> Result<Result<StackFile, String>, mmkt_stack::StackError> {
    let lookup = engine.service_mount(project, service, mount).await?;
    Ok(match lookup {
        MountLookup::Found(m) => Ok(StackFile {
            path: m.host_path.clone(),
            volume: m
                .volume
                .unwrap_or_else(|| m.host_path.display().to_string()),
        }),
        MountLookup::NoContainer => Err(format!(
            "project {project} has no {service} container (start the stack with mmctl up)"
        )),
        MountLookup::NoMount => Err(format!(
            "the {service} container of project {project} mounts nothing at {mount}"
        )),
        MountLookup::RemoteEngine => Err(format!(
            "the engine {} is not on this host, so its volume paths are not this host's files (run mmctl on the Docker host)",
            engine.endpoint()
        )),
    })
}
