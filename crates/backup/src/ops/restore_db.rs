//! `restore db`: rebuild and verify the backup while the server still runs, then stop the
//! server, keep the current database, swap the new one in atomically, start the server and
//! wait until it is ready. A failure before the swap leaves the live database untouched and
//! restarts the server.

use std::path::Path;
use std::time::{Duration, Instant};

use mmkt_sqlcipher::DbKey;
use mmkt_stack::ready::{SERVER_SERVICE, server_answers, wait_ready_http};
use mmkt_stack::{Engine, EngineConfig, StackError};

use super::restore::{
    BackupChoice, Confirmed, Restart, RestorePlan, RestoreResult, RestoredInto, select_backup,
    start_healthy,
};
use crate::chain::resolve::{AuthenticChain, resolve};
use crate::crypto::Identities;
use crate::error::BackupError;
use crate::manifest::{BackupKind, Series};
use crate::progress::{Progress, Step, transfer};
use crate::restore_db::{prepare, swap};

/// Seconds the server gets to exit on SIGTERM before SIGKILL.
const SERVER_STOP_TIMEOUT_SECS: u32 = 30;

/// What to do when the key file does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileUse {
    /// Use the existing key file; a missing one is an error.
    Existing,
    /// Create it with a new random key when missing (a new host whose key was lost: the
    /// restored database is encrypted under the new key).
    CreateIfMissing,
}

/// How the server is stopped and started around the swap.
#[derive(Debug, Clone)]
pub enum ServerControl {
    /// The server runs outside the stack and the operator stopped it; when its URL is given,
    /// the restore refuses while `GET /health` still answers.
    Manual {
        /// The server's base URL.
        server_url: Option<String>,
    },
    /// The `server` container of a compose project: stopped (30 s grace), started after the
    /// swap, then `/ready` is polled (over HTTP at `server_url`, else inside the container).
    Stack {
        /// How to reach the Docker Engine.
        engine: EngineConfig,
        /// Compose project name.
        project: String,
        /// The server's base URL as seen from this host.
        server_url: Option<String>,
        /// How long to wait for healthy, then for ready.
        ready_timeout: Duration,
    },
}

/// What `restore db` does.
#[derive(Debug, Clone)]
pub struct DbRestoreRequest<'a> {
    /// Which backup.
    pub backup: BackupChoice<'a>,
    /// The live database file.
    pub live_db: &'a Path,
    /// Its key file: the restored database is encrypted under this key.
    pub key_file: &'a Path,
    /// Whether a missing key file is created.
    pub key_file_use: KeyFileUse,
    /// age identities that decrypt the backup.
    pub identities: &'a Identities,
    /// How the server is stopped and started.
    pub server: ServerControl,
}

/// The request of a database restore with its key, read while planning.
#[derive(Debug)]
pub struct DbRestore<'a> {
    request: DbRestoreRequest<'a>,
    key: DbKey,
    chain: AuthenticChain,
}

/// A database restore whose key and backup are known, waiting for the operator's
/// confirmation (`run`).
pub type DbRestorePlan<'a> = RestorePlan<DbRestore<'a>>;

/// Prepares a database restore: reads the key file, finds (or downloads) the backup and
/// checks its signature, then creates the key file when allowed and missing. Nothing live is
/// touched, and a refused backup leaves no new key file.
///
/// # Errors
/// [`BackupError::KeyFile`], the errors of [`super::restore::select_backup`], and
/// [`BackupError::ChainBroken`] when a link of a delta's chain is missing or unsigned.
pub async fn plan_db_restore<'a>(
    request: DbRestoreRequest<'a>,
    progress: &dyn Progress,
) -> Result<DbRestorePlan<'a>, BackupError> {
    let started = Instant::now();
    let key_file = request.key_file;
    // An existing key file is read first (a bad one fails fast); a missing one is created only
    // once the backup is chosen and its signature verified, so a refused restore writes nothing.
    let existing = match (request.key_file_use, key_file.exists()) {
        (KeyFileUse::CreateIfMissing, false) => None,
        _ => Some(mmkt_sqlcipher::read_key_file(key_file)?),
    };
    let series = Series {
        kind: BackupKind::Db,
        role: None,
    };
    let backup = select_backup(&request.backup, series, progress).await?;
    // Every link of a delta's chain must be here and signed before anything is written.
    let chain = resolve(request.backup.dir, &backup, request.backup.trusted)?;
    let key = match existing {
        Some(key) => key,
        None => {
            let key = DbKey::generate();
            mmkt_sqlcipher::write_key_file(key_file, &key)?;
            progress.step(Step::KeyFileCreated { path: key_file });
            key
        }
    };
    Ok(RestorePlan {
        target: DbRestore {
            request,
            key,
            chain,
        },
        backup,
        started,
    })
}

/// The stopped server container, to start again.
struct StoppedServer<'a> {
    engine: Engine,
    project: &'a str,
    server_url: Option<&'a str>,
    timeout: Duration,
}

impl StoppedServer<'_> {
    async fn start(&self) -> Result<(), BackupError> {
        start_healthy(&self.engine, self.project, SERVER_SERVICE, self.timeout).await
    }
}

impl DbRestorePlan<'_> {
    /// Runs the restore: rebuild + verify next to the live file (transfer "restore db"), stop
    /// the server, swap (see [`swap`]), start the server and wait until it is ready.
    ///
    /// # Errors
    /// In [`BackupError::Context`]: the rebuild's error ("the current database is untouched"),
    /// a failed swap ("still in place"; the server is started again), a server that does not
    /// become healthy. Also [`BackupError::ServerStillRunning`], [`BackupError::Docker`]
    /// (engine unreachable: nothing was swapped), [`BackupError::NotReady`].
    pub async fn run(self, _confirmed: Confirmed, progress: &dyn Progress) -> RestoreResult {
        let DbRestore {
            request,
            key,
            chain,
        } = &self.target;
        let lookup = (request.backup.dir, request.backup.trusted);
        let (backup, live) = (&self.backup, request.live_db);
        let id = backup.manifest.id.as_str();
        let identities = request.identities;
        // 1. Rebuild + verify while the server still runs: a bad backup never causes downtime.
        let total = Some(chain.links.iter().map(|l| l.manifest.plain_size).sum());
        let prepared = transfer(progress, "restore db", total, |bytes| {
            tokio::task::block_in_place(|| prepare(chain, identities, live, key, lookup, bytes))
        })
        .map_err(|e| {
            e.context(format!(
                "restore of {id} failed; the current database {} is untouched",
                live.display()
            ))
        })?;
        progress.step(Step::DbVerified {
            id,
            pages: prepared.restored().pages,
        });
        // 2. Stop the server.
        let stopped = stop_server(&request.server, progress).await?;
        // 3. Swap (keeps the current DB as a snapshot), then 4. start and wait for /ready.
        let swapped = match tokio::task::block_in_place(|| swap(prepared, live, key)) {
            Ok(report) => report,
            Err(e) => {
                if let Some(server) = &stopped {
                    server.start().await.ok();
                }
                return Err(e.context(format!(
                    "swap failed; the current database {} is still in place",
                    live.display()
                )));
            }
        };
        if let Some(path) = &swapped.snapshot {
            progress.step(Step::PreviousDbKept { path });
        }
        let restart = match &stopped {
            Some(server) => {
                server.start().await.map_err(|e| {
                    e.context("the database was restored but the server did not become healthy")
                })?;
                match server.server_url {
                    Some(url) => wait_ready_http(url, server.timeout).await?,
                    None => {
                        server
                            .engine
                            .wait_ready_in_container(server.project, server.timeout)
                            .await?
                    }
                }
                Restart::Done
            }
            None => Restart::ByOperator,
        };
        let target = RestoredInto::Database {
            path: live.to_owned(),
            previous: swapped.snapshot,
        };
        Ok(self.report(target, restart))
    }
}

/// Stops the server container; `None` when the server is run by the operator or the project
/// has no server container.
async fn stop_server<'a>(
    control: &'a ServerControl,
    progress: &dyn Progress,
) -> Result<Option<StoppedServer<'a>>, BackupError> {
    let (engine, project, server_url, ready_timeout) = match control {
        ServerControl::Manual { server_url } => {
            if let Some(url) = server_url
                && server_answers(url).await
            {
                return Err(BackupError::ServerStillRunning { url: url.clone() });
            }
            return Ok(None);
        }
        ServerControl::Stack {
            engine,
            project,
            server_url,
            ready_timeout,
        } => (engine, project, server_url, ready_timeout),
    };
    let engine = Engine::connect(engine).await?;
    match engine
        .stop_service(project, SERVER_SERVICE, SERVER_STOP_TIMEOUT_SECS)
        .await
    {
        Ok(_) => Ok(Some(StoppedServer {
            engine,
            project,
            server_url: server_url.as_deref(),
            timeout: *ready_timeout,
        })),
        Err(StackError::NoContainer { .. }) => {
            progress.step(Step::NoContainer {
                project,
                service: SERVER_SERVICE,
            });
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
