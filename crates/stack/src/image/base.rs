//! The offline Debian base image: debootstrap a minimal root filesystem, slim it, and import
//! it as `debian:bookworm-slim` (`POST /images/create?fromSrc=-`).

use std::path::{Path, PathBuf};

use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::{BASE_IMAGE, image_id};
use crate::engine::Engine;
use crate::error::StackError;
use crate::tarstream::{Exclude, TarEntry, stream_tar};

/// Options of [`bootstrap_base`].
#[derive(Debug, Clone)]
pub struct BaseOptions {
    /// Tag to create, `repo:tag` (default [`BASE_IMAGE`]).
    pub image: String,
    /// Debian suite (default `bookworm`).
    pub suite: String,
    /// Debian mirror (plain HTTP works through the egress proxy).
    pub mirror: String,
    /// Directory for the temporary root filesystem (default: the system temp dir).
    pub work_dir: PathBuf,
}

impl Default for BaseOptions {
    fn default() -> Self {
        BaseOptions {
            image: BASE_IMAGE.into(),
            suite: "bookworm".into(),
            mirror: host_debian_mirror(),
            work_dir: std::env::temp_dir(),
        }
    }
}

/// Fallback Debian mirror when the host's apt sources name none.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

/// The Debian mirror the host's apt uses (first `deb http...` line of /etc/apt/sources.list, or
/// first `URIs:` of a deb822 file in /etc/apt/sources.list.d/ that is not a security mirror),
/// else [`DEFAULT_MIRROR`]. Using the host's mirror keeps debootstrap on a reachable archive;
/// only `http://` mirrors are taken (apt verifies the archive's signatures either way).
pub fn host_debian_mirror() -> String {
    let mut texts = Vec::new();
    if let Ok(t) = std::fs::read_to_string("/etc/apt/sources.list") {
        texts.push(t);
    }
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if let Ok(t) = std::fs::read_to_string(&p) {
                texts.push(t);
            }
        }
    }
    for text in &texts {
        for line in text.lines().map(str::trim) {
            let url = if let Some(rest) = line.strip_prefix("deb ") {
                rest.split_whitespace().find(|w| w.starts_with("http"))
            } else if let Some(rest) = line.strip_prefix("URIs:") {
                rest.split_whitespace().next()
            } else {
                None
            };
            // Plain HTTP only: HTTPS would need the egress proxy's CA inside the chroot.
            if let Some(url) = url
                && url.starts_with("http://")
                && !url.contains("security")
            {
                return url.trim_end_matches('/').to_string();
            }
        }
    }
    DEFAULT_MIRROR.to_string()
}

/// Result of [`bootstrap_base`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseOutcome {
    /// The image already existed and was kept (idempotent).
    Kept {
        /// Its image ID.
        id: String,
    },
    /// It was created.
    Created {
        /// Its image ID.
        id: String,
    },
}

/// Removes a directory tree when dropped (temporary rootfs), also on error paths.
struct TempTree(PathBuf);

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Creates the base image when it is missing: `debootstrap --variant=minbase SUITE ROOTFS MIRROR`,
/// strips apt lists, caches, docs, man pages and locales (~206 MB -> ~75 MB), writes apt
/// sources for SUITE, SUITE-updates and SUITE-security, and imports the tree as a streamed tar
/// (`POST /images/create?fromSrc=-`, `CMD ["bash"]`). Needs root and the debootstrap package.
///
/// `log` receives progress lines.
///
/// # Errors
/// [`StackError::Tool`] (debootstrap missing or failing), [`StackError::Write`],
/// [`StackError::Engine`].
pub async fn bootstrap_base(
    engine: &Engine,
    opts: &BaseOptions,
    log: &mut (dyn FnMut(&str) + Send),
) -> Result<BaseOutcome, StackError> {
    if let Some(id) = image_id(engine, &opts.image).await? {
        return Ok(BaseOutcome::Kept { id });
    }
    let (repo, tag) = opts
        .image
        .rsplit_once(':')
        .unwrap_or((opts.image.as_str(), "latest"));
    let root = opts
        .work_dir
        .join(format!("mmctl-rootfs-{}", uuid::Uuid::new_v4()));
    let _guard = TempTree(root.clone());
    std::fs::create_dir_all(&root).map_err(|source| StackError::Write {
        path: root.clone(),
        source,
    })?;
    log(&format!(
        "debootstrap --variant=minbase {} {} {} (about a minute)",
        opts.suite,
        root.display(),
        opts.mirror
    ));
    let output = tokio::process::Command::new("debootstrap")
        .args(["--variant=minbase", &opts.suite])
        .arg(&root)
        .arg(&opts.mirror)
        .output()
        .await
        .map_err(|e| StackError::Tool {
            tool: "debootstrap".into(),
            message: format!(
                "cannot run it ({e}); install it with `apt-get install debootstrap` and run as root"
            ),
        })?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        let tail: Vec<&str> = text.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(StackError::Tool {
            tool: "debootstrap".into(),
            message: format!("{}: {}", output.status, tail.join(" | ")),
        });
    }
    log("stripping apt lists, caches, docs, man pages and locales");
    slim_rootfs(&root, &opts.suite, &opts.mirror)?;
    log(&format!("importing as {}", opts.image));
    let (body, handle) = stream_tar(
        vec![TarEntry {
            source: root.clone(),
            name: PathBuf::from("."),
        }],
        Exclude {
            empty_dirs: vec!["dev".into(), "proc".into(), "sys".into()],
        },
    );
    let create = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .changes(vec!["CMD [\"bash\"]".to_string()])
        .build();
    let mut stream =
        engine
            .docker()
            .create_image(Some(create), Some(bollard::body_stream(body)), None);
    while let Some(item) = stream.next().await {
        item.map_err(|e| engine.err(format!("import {}", opts.image), e))?;
    }
    handle
        .await
        .map_err(|e| StackError::Tool {
            tool: "tar".into(),
            message: e.to_string(),
        })?
        .map_err(|source| StackError::Read {
            path: root.clone(),
            source,
        })?;
    let id = image_id(engine, &opts.image)
        .await?
        .ok_or_else(|| StackError::Tool {
            tool: "docker import".into(),
            message: format!("{} not present after import", opts.image),
        })?;
    Ok(BaseOutcome::Created { id })
}

fn slim_rootfs(root: &Path, suite: &str, mirror: &str) -> Result<(), StackError> {
    let clear = |rel: &str, keep: &[&str]| -> Result<(), StackError> {
        let dir = root.join(rel);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        for e in entries.flatten() {
            if keep.iter().any(|k| e.file_name() == *k) {
                continue;
            }
            let p = e.path();
            let res = if p.is_dir() && !p.is_symlink() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            res.map_err(|source| StackError::Write {
                path: p.clone(),
                source,
            })?;
        }
        Ok(())
    };
    clear("var/lib/apt/lists", &["partial", "lock"])?;
    clear("var/cache/apt/archives", &["partial", "lock"])?;
    for f in [
        "var/cache/apt/pkgcache.bin",
        "var/cache/apt/srcpkgcache.bin",
    ] {
        let _ = std::fs::remove_file(root.join(f));
    }
    clear("usr/share/doc", &[])?;
    clear("usr/share/man", &[])?;
    clear("usr/share/info", &[])?;
    clear("usr/share/locale", &["locale.alias"])?;
    clear("var/log", &[])?;
    let security = mirror.trim_end_matches('/').to_string() + "-security";
    let sources = format!(
        "deb {mirror} {suite} main\ndeb {mirror} {suite}-updates main\ndeb {security} {suite}-security main\n"
    );
    let path = root.join("etc/apt/sources.list");
    std::fs::write(&path, sources).map_err(|source| StackError::Write { path, source })?;
    // Keep images small: never install recommends, never keep downloaded .debs.
    let path = root.join("etc/apt/apt.conf.d/90mmkt-slim");
    std::fs::write(&path, "APT::Install-Recommends \"false\";\nAPT::Install-Suggests \"false\";\nAPT::Keep-Downloaded-Packages \"false\";\n")
        .map_err(|source| StackError::Write { path, source })?;
    Ok(())
}
