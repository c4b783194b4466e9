//! Offline images: create the `debian:bookworm-slim` base with debootstrap and import it
//! (`POST /images/create?fromSrc=-`), build the project's images from streamed tar contexts
//! (`POST /build`, legacy builder), and move images between hosts (`GET /images/get`,
//! `POST /images/load`). No registry is ever contacted.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, ImportImageOptionsBuilder,
};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::compose::{Build, LoadedCompose};
use super::engine::Engine;
use super::error::{StackError, is_not_found};
use super::tarstream::{Exclude, TarEntry, stream_tar};

/// The base image every project image starts FROM.
pub const BASE_IMAGE: &str = "debian:bookworm-slim";

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

/// `x-mmkt-cargo-binary: NAME` on a service: the cargo-built binary `NAME` is added to the build
/// context as `./NAME` (from `$CARGO_TARGET_DIR` or `<compose dir>/../target`, the newest of
/// `release/` and `debug/`), unless an explicit path is given.
pub const CARGO_BINARY_KEY: &str = "x-mmkt-cargo-binary";

/// One image to build.
#[derive(Debug, Clone)]
pub struct BuildTarget {
    /// Tag produced (the service's `image:`).
    pub image: String,
    /// Services using it.
    pub services: Vec<String>,
    /// Context directory (absolute).
    pub context: PathBuf,
    /// Dockerfile path inside the context.
    pub dockerfile: String,
    /// Build args.
    pub args: BTreeMap<String, String>,
    /// Cargo binary to add to the context, by name.
    pub cargo_binary: Option<String>,
}

/// The images `mmctl image build` makes, one per distinct `image:` with a `build:` section,
/// restricted to `services` when not empty (by name; any profile).
///
/// # Errors
/// [`StackError::Invalid`] for an unknown service, a service without `build:`, or a missing
/// context directory.
pub fn build_targets(
    compose: &LoadedCompose,
    services: &[String],
) -> Result<Vec<BuildTarget>, StackError> {
    for s in services {
        let svc = compose.file.service(s)?;
        if svc.build.is_none() {
            return Err(StackError::Invalid(format!(
                "service {s} has no `build:` section; its image ({}) comes from elsewhere",
                svc.image_ref()
            )));
        }
    }
    let mut by_image: BTreeMap<String, BuildTarget> = BTreeMap::new();
    for (name, svc) in &compose.file.services {
        let Some(build) = &svc.build else { continue };
        if !services.is_empty() && !services.contains(name) {
            continue;
        }
        let (context, dockerfile, args) = match build {
            Build::Context(c) => (c.clone(), None, None),
            Build::Full {
                context,
                dockerfile,
                args,
            } => (context.clone(), dockerfile.clone(), args.clone()),
        };
        let context = super::spec::resolve_host_path(&compose.dir, &context);
        if !context.is_dir() {
            return Err(StackError::Invalid(format!(
                "service {name}: build context {} is not a directory",
                context.display()
            )));
        }
        let target = by_image
            .entry(svc.image_ref().to_string())
            .or_insert_with(|| BuildTarget {
                image: svc.image_ref().to_string(),
                services: Vec::new(),
                context,
                dockerfile: dockerfile.unwrap_or_else(|| "Dockerfile".into()),
                args: args
                    .map(|a| a.resolve(&compose.variables))
                    .unwrap_or_default(),
                cargo_binary: svc.extension::<String>(CARGO_BINARY_KEY).ok().flatten(),
            });
        target.services.push(name.clone());
    }
    Ok(by_image.into_values().collect())
}

/// Finds the newest cargo build of `name`: `$CARGO_TARGET_DIR/{release,debug}/NAME` or
/// `<compose dir>/../target/{release,debug}/NAME`.
///
/// # Errors
/// [`StackError::Invalid`] telling the operator to run `cargo build`.
pub fn find_cargo_binary(compose: &LoadedCompose, name: &str) -> Result<PathBuf, StackError> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::spec::resolve_host_path(&compose.dir, "../target"));
    let mut best: Option<(SystemTime, PathBuf)> = None;
    for profile in ["release", "debug"] {
        let p = target.join(profile).join(name);
        if let Ok(m) = std::fs::metadata(&p)
            && m.is_file()
        {
            let t = m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if best.as_ref().is_none_or(|(bt, _)| t > *bt) {
                best = Some((t, p));
            }
        }
    }
    best.map(|(_, p)| p).ok_or_else(|| {
        StackError::Invalid(format!(
            "no cargo build of {name} under {}/{{release,debug}}; run `cargo build --release -p {}` first (or pass --binary {name}=PATH)",
            target.display(),
            if name == "mmkt-server" { "mmkt-server" } else { name }
        ))
    })
}

/// Builds one image through `POST /build` from a streamed tar of its context (plus the cargo
/// binary, when the service declares one). `log` receives the builder's output lines.
///
/// # Errors
/// [`StackError::BuildFailed`] with the builder's message, [`StackError::Read`] for an
/// unreadable context, [`StackError::Engine`].
pub async fn build_image(
    engine: &Engine,
    target: &BuildTarget,
    binary: Option<&Path>,
    cache: CachePolicy,
    log: &mut (dyn FnMut(&str) + Send),
) -> Result<String, StackError> {
    let mut entries = vec![TarEntry {
        source: target.context.clone(),
        name: PathBuf::from("."),
    }];
    if let (Some(name), Some(path)) = (&target.cargo_binary, binary) {
        entries.push(TarEntry {
            source: path.to_path_buf(),
            name: PathBuf::from(name),
        });
    }
    let (body, handle) = stream_tar(entries, Exclude::default());
    let args: HashMap<String, String> = target.args.clone().into_iter().collect();
    let opts = BuildImageOptionsBuilder::default()
        .dockerfile(&target.dockerfile)
        .t(&target.image)
        .rm(true)
        .forcerm(true)
        .nocache(cache == CachePolicy::NoCache)
        .buildargs(&args)
        .build();
    let mut stream = engine
        .docker()
        .build_image(opts, None, Some(bollard::body_stream(body)));
    let mut failure: Option<String> = None;
    let mut last_lines: Vec<String> = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(s) = info.stream.as_deref() {
                    for line in s.lines().filter(|l| !l.trim().is_empty()) {
                        log(line);
                        last_lines.push(line.to_string());
                        if last_lines.len() > 10 {
                            last_lines.remove(0);
                        }
                    }
                }
                if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                    failure = Some(detail);
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => failure = Some(error),
            Err(e) => {
                let err = engine.err(format!("build {}", target.image), e);
                if matches!(err, StackError::Unreachable { .. }) {
                    return Err(err);
                }
                failure = Some(err.to_string());
            }
        }
    }
    let tar_result = handle.await.map_err(|e| StackError::Tool {
        tool: "tar".into(),
        message: e.to_string(),
    })?;
    if let Some(message) = failure {
        return Err(StackError::BuildFailed {
            image: target.image.clone(),
            message: format!("{message} (last output: {})", last_lines.join(" | ")),
        });
    }
    tar_result.map_err(|source| StackError::Read {
        path: target.context.clone(),
        source,
    })?;
    image_id(engine, &target.image)
        .await?
        .ok_or_else(|| StackError::BuildFailed {
            image: target.image.clone(),
            message: "the builder reported success but the tag is missing".into(),
        })
}

/// Whether a build may reuse cached layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachePolicy {
    /// Reuse layers (default).
    UseCache,
    /// Rebuild every step (`--no-cache`), e.g. to pick up Debian security updates.
    NoCache,
}

/// Writes `images` to `file` as a `docker save` archive (`GET /images/get?names=...`),
/// gzip-compressed when the file name ends in `.gz`. The file is written to a temporary name
/// and renamed, so a failed save never leaves a truncated archive under the final name.
///
/// # Errors
/// [`StackError::ImageMissing`] for an image not present, [`StackError::Write`],
/// [`StackError::Engine`]. Returns the archive size in bytes.
pub async fn save_images(
    engine: &Engine,
    images: &[String],
    file: &Path,
) -> Result<u64, StackError> {
    for image in images {
        if image_id(engine, image).await?.is_none() {
            return Err(StackError::ImageMissing {
                service: "-".into(),
                image: image.clone(),
            });
        }
    }
    let tmp = file.with_extension(format!("partial-{}", std::process::id()));
    let write_err = |source: std::io::Error| StackError::Write {
        path: tmp.clone(),
        source,
    };
    let out = tokio::fs::File::create(&tmp).await.map_err(write_err)?;
    let gzip = file.extension().map(|e| e == "gz").unwrap_or(false);
    let names: Vec<&str> = images.iter().map(String::as_str).collect();
    let mut stream = engine.docker().export_images(&names);
    let result: Result<(), StackError> = async {
        if gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let mut out = out;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| engine.err("export images", e))?;
                std::io::Write::write_all(&mut enc, &chunk).map_err(write_err)?;
                let pending = std::mem::take(enc.get_mut());
                out.write_all(&pending).await.map_err(write_err)?;
            }
            let rest = enc.finish().map_err(write_err)?;
            out.write_all(&rest).await.map_err(write_err)?;
            out.sync_all().await.map_err(write_err)?;
        } else {
            let mut out = out;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| engine.err("export images", e))?;
                out.write_all(&chunk).await.map_err(write_err)?;
            }
            out.sync_all().await.map_err(write_err)?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    tokio::fs::rename(&tmp, file)
        .await
        .map_err(|source| StackError::Write {
            path: file.to_path_buf(),
            source,
        })?;
    let size = tokio::fs::metadata(file)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    Ok(size)
}

/// Loads a `docker save` archive (plain or gzip; the engine detects it) through
/// `POST /images/load`. Returns the engine's messages (e.g. "Loaded image: mmkt/server:latest").
///
/// # Errors
/// [`StackError::Read`], [`StackError::Engine`] (for example a file that is not an image archive).
pub async fn load_images(engine: &Engine, file: &Path) -> Result<Vec<String>, StackError> {
    use tokio::io::AsyncReadExt;
    let f = tokio::fs::File::open(file)
        .await
        .map_err(|source| StackError::Read {
            path: file.to_path_buf(),
            source,
        })?;
    let body = futures_util::stream::unfold(f, |mut f| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((
                    Ok::<bytes::Bytes, std::io::Error>(bytes::Bytes::from(buf)),
                    f,
                ))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let mut stream = engine.docker().import_image_stream(
        ImportImageOptionsBuilder::default().quiet(true).build(),
        body,
        None,
    );
    let mut messages = Vec::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| engine.err(format!("load {}", file.display()), e))?;
        if let Some(s) = info.stream {
            messages.extend(
                s.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_string),
            );
        }
    }
    Ok(messages)
}
