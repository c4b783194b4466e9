//! Streams a tar archive built on a blocking thread (tar crate) into an Engine API request
//! body, so neither a build context nor a root filesystem is ever held in memory whole.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;

/// Chunk size of the streamed body, in bytes.
const CHUNK: usize = 256 * 1024;

/// A file to put into the archive: `source` on disk stored as `name` (relative path).
#[derive(Debug, Clone)]
pub struct TarEntry {
    /// File or directory on disk.
    pub source: PathBuf,
    /// Path inside the archive (`.` for the root when `source` is a directory).
    pub name: PathBuf,
}

/// Paths (relative, first component) never archived from a directory: kernel-provided trees.
#[derive(Debug, Clone, Default)]
pub struct Exclude {
    /// Top-level directories whose contents are skipped (the directory itself is kept).
    pub empty_dirs: Vec<String>,
}

/// Writer that forwards chunks to the async side.
struct ChannelWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx.blocking_send(chunk).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the Docker Engine stopped reading the archive",
            )
        })
    }
}

/// Starts archiving `entries` on a blocking thread. Returns the body stream and a handle whose
/// result says whether the archive was complete (check it after the request finished).
pub fn stream_tar(
    entries: Vec<TarEntry>,
    exclude: Exclude,
) -> (
    impl Stream<Item = Bytes> + Send + 'static,
    tokio::task::JoinHandle<std::io::Result<u64>>,
) {
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    let handle = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        let mut writer = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        let mut count = 0u64;
        {
            let mut builder = tar::Builder::new(&mut writer);
            builder.follow_symlinks(false);
            // The engine rejects GNU sparse headers (type S); store holes as zeros.
            builder.sparse(false);
            builder.mode(tar::HeaderMode::Complete);
            let mut links = HardLinks::default();
            for entry in &entries {
                count += append(
                    &mut builder,
                    &entry.source,
                    &entry.name,
                    &exclude,
                    0,
                    &mut links,
                )?;
            }
            builder.finish()?;
        }
        writer.flush()?;
        Ok(count)
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    (stream, handle)
}

/// Files with several hard links already archived, by (device, inode): later names become
/// hard-link entries instead of second copies (a Debian rootfs has many).
#[derive(Default)]
struct HardLinks {
    seen: std::collections::HashMap<(u64, u64), PathBuf>,
}

fn append<W: Write>(
    builder: &mut tar::Builder<W>,
    source: &Path,
    name: &Path,
    exclude: &Exclude,
    depth: usize,
    links: &mut HardLinks,
) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(source)?;
    let ft = meta.file_type();
    if ft.is_dir() {
        let mut count = 0;
        if name != Path::new(".") {
            builder.append_path_with_name(source, name)?;
            count += 1;
        }
        if depth == 1
            && exclude
                .empty_dirs
                .iter()
                .any(|d| name.file_name().map(|f| f == d.as_str()).unwrap_or(false))
        {
            return Ok(count);
        }
        let mut children: Vec<_> = std::fs::read_dir(source)?.collect::<Result<_, _>>()?;
        children.sort_by_key(|e| e.file_name());
        for child in children {
            let child_name = if name == Path::new(".") {
                PathBuf::from(child.file_name())
            } else {
                name.join(child.file_name())
            };
            count += append(
                builder,
                &child.path(),
                &child_name,
                exclude,
                depth + 1,
                links,
            )?;
        }
        return Ok(count);
    }
    if ft.is_file() && meta.nlink() > 1 {
        let key = (meta.dev(), meta.ino());
        if let Some(first) = links.seen.get(&key) {
            let mut header = tar::Header::new_gnu();
            header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
            header.set_entry_type(tar::EntryType::Link);
            header.set_size(0);
            builder.append_link(&mut header, name, first)?;
            return Ok(1);
        }
        links.seen.insert(key, name.to_path_buf());
    }
    if ft.is_file() || ft.is_symlink() {
        builder.append_path_with_name(source, name)?;
        return Ok(1);
    }
    // Device nodes, fifos and sockets are not needed in images (the engine provides /dev).
    Ok(0)
}
