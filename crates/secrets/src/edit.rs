//! Editing plaintext without a disk: the text goes into a 0600 file inside a private 0700
//! directory on a tmpfs (`MMCTL_SECRETS_TMPDIR` when set, else `$XDG_RUNTIME_DIR`, else
//! `/dev/shm`; the first candidate must be a tmpfs, `statfs` says so), the operator's
//! editor runs on it, and the directory is removed afterwards, also on error.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::SecretsError;

/// The variable that names the only directory `edit` may use (it must be a tmpfs).
pub const TMPDIR_VARIABLE: &str = "MMCTL_SECRETS_TMPDIR";

/// Linux's `TMPFS_MAGIC` (`statfs(2)`'s `f_type` of a tmpfs).
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// The directory to edit in: [`TMPDIR_VARIABLE`] (which must then be a tmpfs), else the
/// first of `$XDG_RUNTIME_DIR` and `/dev/shm` that is a tmpfs.
///
/// # Errors
/// [`SecretsError::NoTmpfs`] naming what was tried.
pub fn tmpfs_dir() -> Result<PathBuf, SecretsError> {
    let forced = std::env::var_os(TMPDIR_VARIABLE).filter(|v| !v.is_empty());
    let candidates: Vec<PathBuf> = match forced {
        Some(dir) => vec![dir.into()],
        None => std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .into_iter()
            .chain([PathBuf::from("/dev/shm")])
            .collect(),
    };
    if let Some(dir) = candidates.iter().find(|d| is_tmpfs(d)) {
        return Ok(dir.clone());
    }
    let tried: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
    Err(SecretsError::NoTmpfs(format!(
        "not a tmpfs: {}",
        tried.join(", ")
    )))
}

/// Whether `dir` is on a tmpfs.
pub fn is_tmpfs(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut stat = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `path` is NUL-terminated and `stat` is a valid out-pointer for statfs.
    let rc = unsafe { libc::statfs(path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return false;
    }
    // SAFETY: statfs returned 0, so it filled `stat`.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    let kind = i64::from(stat.f_type as i64);
    kind == TMPFS_MAGIC
}

/// Runs `editor` (a shell command line, as `$EDITOR` holds it, given the file as its last
/// argument) on `plain` in a fresh 0600 file under [`tmpfs_dir`], and returns what the
/// editor left there. The file and its directory are gone when this returns.
///
/// # Errors
/// [`SecretsError::NoTmpfs`], [`SecretsError::Editor`], [`SecretsError::Io`].
pub fn in_editor(plain: &str, editor: &str) -> Result<String, SecretsError> {
    let base = tmpfs_dir()?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SecretsError::Io { path, source }
    };
    // A private 0700 directory, so the editor's swap and backup files stay private too.
    let dir = tempfile::Builder::new()
        .prefix("mmctl-secrets-")
        .tempdir_in(&base)
        .map_err(io(&base))?;
    let file = dir.path().join("secrets.yaml");
    write_private(&file, plain).map_err(io(&file))?;
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("mmctl-secrets-editor")
        .arg(&file)
        .status()
        .map_err(|e| SecretsError::Editor {
            editor: editor.to_string(),
            reason: format!("cannot start it ({e})"),
        })?;
    if !status.success() {
        return Err(SecretsError::Editor {
            editor: editor.to_string(),
            reason: format!("it exited with {status}"),
        });
    }
    std::fs::read_to_string(&file).map_err(io(&file))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(text.as_bytes())
}
