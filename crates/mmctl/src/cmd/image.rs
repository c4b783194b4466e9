//! `mmctl image`: offline images — create the Debian base, build the project's images, save
//! and load them for air-gapped hosts. No registry is contacted.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use mmctl::docker::image::{self, BaseOptions, BaseOutcome, CachePolicy};

use super::stack_common::{StackArgs, classify, connect};
use crate::exit::{Outcome, UsageError};

/// Build and move images without a registry.
#[derive(Debug, Args)]
#[command(after_help = "Examples (fresh machine, no registry):
  mmctl image bootstrap-base          # debian:bookworm-slim via debootstrap (~1 min, root)
  cargo build --release -p mmkt-server
  mmctl image build                   # every image with a build: section in the compose file
  mmctl image build server            # only the server image
  mmctl image save /var/tmp/mmkt-images.tar.gz
  # on the air-gapped host:
  mmctl image load /var/tmp/mmkt-images.tar.gz")]
pub struct ImageArgs {
    #[command(subcommand)]
    pub command: ImageCommand,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Create debian:bookworm-slim locally (debootstrap + import); keeps an existing one.
    ///
    /// Example: mmctl image bootstrap-base --mirror http://deb.debian.org/debian
    BootstrapBase(BootstrapArgs),
    /// Build the project's images through the Engine API from streamed tar contexts.
    ///
    /// Example: mmctl image build server monerod
    Build(BuildArgs),
    /// Write images to a docker-save archive (gzip when FILE ends in .gz).
    ///
    /// Example: mmctl image save mmkt-images.tar.gz
    Save(SaveArgs),
    /// Load a docker-save archive (plain or gzip).
    ///
    /// Example: mmctl image load mmkt-images.tar.gz
    Load(LoadArgs),
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Image to create.
    #[arg(long, default_value = image::BASE_IMAGE)]
    pub image: String,
    /// Debian suite.
    #[arg(long, default_value = "bookworm")]
    pub suite: String,
    /// Debian mirror (plain HTTP). Default: the one in the host's apt sources, else
    /// http://deb.debian.org/debian.
    #[arg(long)]
    pub mirror: Option<String>,
    /// Directory for the temporary root filesystem (~210 MB).
    #[arg(long, default_value_os_t = std::env::temp_dir())]
    pub work_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Services whose images to build (default: all with a build: section).
    pub services: Vec<String>,
    /// Rebuild every step (picks up Debian updates).
    #[arg(long)]
    pub no_cache: bool,
    /// Use this file for a cargo-built binary instead of target/{release,debug}: NAME=PATH.
    #[arg(long, value_name = "NAME=PATH")]
    pub binary: Vec<String>,
    /// Print only step headers and errors, not every output line of RUN steps.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Archive to write (.tar or .tar.gz).
    #[arg(value_name = "FILE")]
    pub archive: PathBuf,
    /// Images to save (default: every image of the enabled services, plus the Debian base).
    #[arg(long = "image")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Archive written by `mmctl image save` or `docker save`.
    pub file: PathBuf,
}

pub async fn run(args: ImageArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    match args.command {
        ImageCommand::BootstrapBase(a) => bootstrap(a, docker_host).await,
        ImageCommand::Build(a) => build(a, docker_host).await,
        ImageCommand::Save(a) => save(a, docker_host).await,
        ImageCommand::Load(a) => load(a, docker_host).await,
    }
}

async fn bootstrap(a: BootstrapArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let engine = connect(docker_host).await?;
    let mirror = a.mirror.unwrap_or_else(image::host_debian_mirror);
    let opts = BaseOptions {
        image: a.image.clone(),
        suite: a.suite,
        mirror,
        work_dir: a.work_dir,
    };
    let mut log = |l: &str| println!("{l}");
    match image::bootstrap_base(&engine, &opts, &mut log)
        .await
        .map_err(classify)?
    {
        BaseOutcome::Kept { id } => println!("{} already present ({}); kept", a.image, short(&id)),
        BaseOutcome::Created { id } => println!("{} created ({})", a.image, short(&id)),
    }
    Ok(Outcome::Success)
}

async fn build(a: BuildArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let project = a.stack.load()?;
    let targets = image::build_targets(&project.compose, &a.services).map_err(classify)?;
    let mut overrides = std::collections::BTreeMap::new();
    for b in &a.binary {
        let (name, path) = b
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--binary {b:?}: expected NAME=PATH")))?;
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(
                UsageError(format!("--binary {name}: {} is not a file", path.display())).into(),
            );
        }
        overrides.insert(name.to_string(), path);
    }
    // Resolve every binary before building anything.
    let mut binaries = Vec::new();
    for t in &targets {
        let bin = match &t.cargo_binary {
            None => None,
            Some(name) => Some(match overrides.get(name) {
                Some(p) => p.clone(),
                None => image::find_cargo_binary(&project.compose, name).map_err(classify)?,
            }),
        };
        binaries.push(bin);
    }
    let engine = connect(docker_host).await?;
    if image::image_id(&engine, image::BASE_IMAGE)
        .await
        .map_err(classify)?
        .is_none()
    {
        anyhow::bail!(
            "the base image {} is missing; run `mmctl image bootstrap-base` (or `mmctl image load FILE`) first",
            image::BASE_IMAGE
        );
    }
    let cache = if a.no_cache {
        CachePolicy::NoCache
    } else {
        CachePolicy::UseCache
    };
    for (t, bin) in targets.iter().zip(&binaries) {
        println!(
            "building {} for {}{}",
            t.image,
            t.services.join(", "),
            bin.as_ref()
                .map(|b| format!(" (with {})", b.display()))
                .unwrap_or_default()
        );
        let quiet = a.quiet;
        let mut log = |l: &str| {
            if !quiet || l.starts_with("Step ") {
                println!("  {l}");
            }
        };
        let id = image::build_image(&engine, t, bin.as_deref(), cache, &mut log)
            .await
            .map_err(classify)?;
        println!("built {} ({})", t.image, short(&id));
    }
    Ok(Outcome::Success)
}

async fn save(a: SaveArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let images = if a.images.is_empty() {
        let project = a.stack.load()?;
        let mut v: Vec<String> = project
            .compose
            .file
            .enabled_services(&project.profiles)
            .iter()
            .map(|s| project.compose.file.services[s].image_ref().to_string())
            .collect();
        v.push(image::BASE_IMAGE.to_string());
        v.sort();
        v.dedup();
        v
    } else {
        a.images
    };
    let engine = connect(docker_host).await?;
    println!("saving {} to {}", images.join(", "), a.archive.display());
    let size = image::save_images(&engine, &images, &a.archive)
        .await
        .map_err(classify)?;
    println!("wrote {} ({} bytes)", a.archive.display(), size);
    Ok(Outcome::Success)
}

async fn load(a: LoadArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    if !a.file.is_file() {
        return Err(UsageError(format!(
            "{} does not exist or is not a file",
            a.file.display()
        ))
        .into());
    }
    let engine = connect(docker_host).await?;
    for m in image::load_images(&engine, &a.file)
        .await
        .map_err(classify)?
    {
        println!("{m}");
    }
    Ok(Outcome::Success)
}

fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}
