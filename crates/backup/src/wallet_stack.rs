//! Wallet directories of the compose stack, through the Engine API only (works with a remote
//! engine too): stop `wallet-rpc-<role>`, read `/wallets` with `GET /containers/{id}/archive`,
//! start it again; and the reverse for restores (`PUT /containers/{id}/archive`).

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;

use mmkt_stack::{Engine, StopOutcome};

use super::error::BackupError;
use super::manifest::{Consistency, WalletRole};
use super::store::{open_for_tar, regular_files};
use super::wallets::{ArchiveWriter, append_tar_stream};

/// Mount point of the wallet volume inside wallet-rpc containers (docker-compose contract).
pub const CONTAINER_WALLET_DIR: &str = "/wallets";

/// Seconds a wallet-rpc gets to store its wallet and exit on SIGTERM before SIGKILL.
pub const STOP_TIMEOUT_SECS: u32 = 60;

/// How long to wait for a restarted wallet-rpc to be healthy again.
pub const START_TIMEOUT: Duration = Duration::from_secs(180);

/// The compose service name of a role's wallet-rpc: `wallet-rpc-<role>`.
pub fn service_name(role: WalletRole) -> String {
    format!("wallet-rpc-{role}")
}

/// Turns Engine API failures into backup errors (the CLI maps "unreachable" to exit 3).
fn docker(e: mmkt_stack::StackError) -> BackupError {
    BackupError::Docker(e)
}

/// A blocking reader fed by the async Engine API stream.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, String>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => {
                    self.buf = chunk;
                    self.pos = 0;
                }
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Streams a container directory (`GET /containers/{id}/archive?path=...`) into a wallet
/// archive, with the directory's own name stripped from entry paths. Memory stays bounded
/// (a few chunks in flight).
///
/// # Errors
/// [`BackupError::Docker`] when the Engine API fails, archive errors otherwise.
pub async fn archive_container_dir(
    engine: &Engine,
    container: &str,
    path: &str,
    mut writer: ArchiveWriter,
) -> Result<ArchiveWriter, BackupError> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, String>>(8);
    let strip = format!(
        "{}/",
        Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let consumer = tokio::task::spawn_blocking(move || {
        let mut reader = ChannelReader {
            rx,
            buf: Vec::new(),
            pos: 0,
        };
        append_tar_stream(&mut writer, &mut reader, &strip).map(|()| writer)
    });
    let mut stream = std::pin::pin!(engine.download_archive(container, path));
    while let Some(item) = stream.next().await {
        let message = item.map(|b| b.to_vec()).map_err(|e| e.to_string());
        let failed = message.is_err();
        if tx.send(message).await.is_err() || failed {
            break;
        }
    }
    drop(tx);
    consumer
        .await
        .map_err(|e| BackupError::Wallet(format!("archive task failed: {e}")))?
}

/// Uploads the files of a local directory into a container directory
/// (`PUT /containers/{id}/archive?path=...`), overwriting files of the same name and keeping
/// others. Owner and mode of each file are set to `owner` (uid, gid) and kept, respectively.
///
/// # Errors
/// [`BackupError::Docker`] when the Engine API refuses, [`BackupError::Io`] on local reads.
pub async fn upload_dir(
    engine: &Engine,
    container: &str,
    local: &Path,
    path: &str,
    owner: (u64, u64),
) -> Result<(), BackupError> {
    let local = local.to_owned();
    let body = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, BackupError> {
        let mut builder = tar::Builder::new(Vec::new());
        for path in regular_files(&local)? {
            let (mut file, mut header) = open_for_tar(&path)?;
            header.set_uid(owner.0);
            header.set_gid(owner.1);
            let name = path
                .file_name()
                .expect("file")
                .to_string_lossy()
                .into_owned();
            builder
                .append_data(&mut header, &name, &mut file)
                .map_err(BackupError::io(format!("pack {}", path.display())))?;
        }
        builder.into_inner().map_err(BackupError::io("finish tar"))
    })
    .await
    .map_err(|e| BackupError::Wallet(format!("pack task failed: {e}")))??;
    engine
        .upload_archive(container, path, body)
        .await
        .map_err(docker)
}

/// The uid/gid owning the wallet directory inside the container (so restored files stay
/// writable by the wallet-rpc user).
///
/// # Errors
/// [`BackupError::Docker`] when the archive cannot be read.
pub async fn dir_owner(
    engine: &Engine,
    container: &str,
    path: &str,
) -> Result<(u64, u64), BackupError> {
    let mut stream = std::pin::pin!(engine.download_archive(container, path));
    let mut head = Vec::new();
    while let Some(item) = stream.next().await {
        let chunk = item.map_err(docker)?;
        head.extend_from_slice(&chunk);
        if head.len() >= 512 {
            break;
        }
    }
    let header = head
        .get(..512)
        .ok_or_else(|| BackupError::Wallet(format!("empty archive for {container}:{path}")))?;
    let header = tar::Header::from_byte_slice(header);
    Ok((header.uid().unwrap_or(0), header.gid().unwrap_or(0)))
}

/// Archives `wallet-rpc-<role>`'s `/wallets` into `writer`: stops the container (the
/// wallet-rpc stores its open wallet on SIGTERM), streams the directory, and starts the
/// container again — also when the archive fails — waiting until it is healthy.
///
/// # Errors
/// [`BackupError::Docker`] (no such container, Engine API failure, not healthy after restart),
/// archive errors.
pub async fn archive_from_stack(
    engine: &Engine,
    project: &str,
    role: WalletRole,
    writer: ArchiveWriter,
) -> Result<(ArchiveWriter, Consistency), BackupError> {
    let service = service_name(role);
    let id = engine
        .require_service_container(project, &service)
        .await
        .map_err(docker)?;
    let stopped = engine
        .stop_service(project, &service, STOP_TIMEOUT_SECS)
        .await
        .map_err(docker)?;
    let archived = archive_container_dir(engine, &id, CONTAINER_WALLET_DIR, writer).await;
    if stopped == StopOutcome::Stopped {
        engine
            .start_service(project, &service)
            .await
            .map_err(docker)?;
        engine
            .wait_healthy(&service, &id, START_TIMEOUT)
            .await
            .map_err(docker)?;
    }
    Ok((archived?, Consistency::ContainerStopped))
}
