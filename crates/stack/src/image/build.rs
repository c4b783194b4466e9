//! Building the project's images (`POST /build`, legacy builder) from streamed tar contexts,
//! with the cargo-built binaries a service declares added to its context.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt;

use super::image_id;
use crate::compose::{Build, LoadedCompose};
use crate::engine::Engine;
use crate::error::StackError;
use crate::tarstream::{Exclude, TarEntry, stream_tar};

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
        let context = crate::spec::resolve_host_path(&compose.dir, &context);
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
        .unwrap_or_else(|| crate::spec::resolve_host_path(&compose.dir, "../target"));
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

/// One image to build, with the cargo binary that goes into its context.
#[derive(Debug, Clone)]
pub struct BuildJob {
    /// What to build.
    pub target: BuildTarget,
    /// The binary added to the context as `./NAME`; `None` when the service declares none.
    pub binary: Option<PathBuf>,
}

/// Resolves what `mmctl image build` will do before anything is built: the targets for
/// `services` (empty = every service with a `build:` section, see [`build_targets`]) and,
/// for each, its cargo binary: a `NAME=PATH` entry of `binary_overrides` (`--binary`), else
/// the newest cargo build ([`find_cargo_binary`]).
///
/// # Errors
/// [`StackError::Invalid`] for an unknown service or one without `build:`, a malformed or
/// missing `--binary` file, or a cargo binary that was never built.
pub fn plan_builds(
    compose: &LoadedCompose,
    services: &[String],
    binary_overrides: &[String],
) -> Result<Vec<BuildJob>, StackError> {
    let targets = build_targets(compose, services)?;
    let mut overrides = BTreeMap::new();
    for b in binary_overrides {
        let (name, path) = b
            .split_once('=')
            .ok_or_else(|| StackError::Invalid(format!("--binary {b:?}: expected NAME=PATH")))?;
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(StackError::Invalid(format!(
                "--binary {name}: {} is not a file",
                path.display()
            )));
        }
        overrides.insert(name.to_string(), path);
    }
    let mut jobs = Vec::new();
    for target in targets {
        let binary = match &target.cargo_binary {
            None => None,
            Some(name) => Some(match overrides.get(name) {
                Some(p) => p.clone(),
                None => find_cargo_binary(compose, name)?,
            }),
        };
        jobs.push(BuildJob { target, binary });
    }
    Ok(jobs)
}

/// Progress of [`build_images`].
#[derive(Debug, Clone, Copy)]
pub enum BuildEvent<'a> {
    /// A build starts.
    Started(&'a BuildJob),
    /// One non-empty output line of the builder (`Step N/M : ...` headers included).
    Output(&'a str),
    /// A build finished with this image ID (`sha256:...`).
    Built(&'a BuildJob, &'a str),
}

/// Builds every job in order ([`build_image`]) after checking that [`super::BASE_IMAGE`] is
/// present. Returns the image IDs in job order.
///
/// # Errors
/// [`StackError::BaseImageMissing`] before anything is built; then the errors of
/// [`build_image`] (the first failure stops the run).
pub async fn build_images(
    engine: &Engine,
    jobs: &[BuildJob],
    cache: CachePolicy,
    on_event: &mut (dyn FnMut(BuildEvent<'_>) + Send),
) -> Result<Vec<String>, StackError> {
    if image_id(engine, super::BASE_IMAGE).await?.is_none() {
        return Err(StackError::BaseImageMissing {
            image: super::BASE_IMAGE.to_string(),
        });
    }
    let mut ids = Vec::new();
    for job in jobs {
        on_event(BuildEvent::Started(job));
        let mut log = |line: &str| on_event(BuildEvent::Output(line));
        let id = build_image(engine, &job.target, job.binary.as_deref(), cache, &mut log).await?;
        on_event(BuildEvent::Built(job, &id));
        ids.push(id);
    }
    Ok(ids)
}
