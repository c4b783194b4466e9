//! `mmctl image`: offline images — create the Debian base, build the project's images, save
//! and load them for air-gapped hosts. No registry is contacted.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use mmkt_stack::image::{self, BaseOptions, BaseOutcome, BuildEvent, CachePolicy, short_id};

use crate::args::{StackArgs, connect};
use crate::exit::{Outcome, UsageError, classify_stack};

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

/// Runs `mmctl image ...`: bootstrap the base, build, save or load through `mmkt_stack::image`.
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
        .map_err(classify_stack)?
    {
        BaseOutcome::Kept { id } => {
            println!("{} already present ({}); kept", a.image, short_id(&id))
        }
        BaseOutcome::Created { id } => println!("{} created ({})", a.image, short_id(&id)),
    }
    Ok(Outcome::Success)
}

async fn build(a: BuildArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let project = a.stack.load()?;
    let jobs =
        image::plan_builds(&project.compose, &a.services, &a.binary).map_err(classify_stack)?;
    let engine = connect(docker_host).await?;
    let cache = if a.no_cache {
        CachePolicy::NoCache
    } else {
        CachePolicy::UseCache
    };
    let quiet = a.quiet;
    let mut on_event = |event: BuildEvent<'_>| match event {
        BuildEvent::Started(job) => println!(
            "building {} for {}{}",
            job.target.image,
            job.target.services.join(", "),
            job.binary
                .as_ref()
                .map(|b| format!(" (with {})", b.display()))
                .unwrap_or_default()
        ),
        BuildEvent::Output(line) if !quiet || line.starts_with("Step ") => println!("  {line}"),
        BuildEvent::Output(_) => {}
        BuildEvent::Built(job, id) => println!("built {} ({})", job.target.image, short_id(id)),
    };
    image::build_images(&engine, &jobs, cache, &mut on_event)
        .await
        .map_err(classify_stack)?;
    Ok(Outcome::Success)
}

async fn save(a: SaveArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let images = if a.images.is_empty() {
        image::project_images(&a.stack.load()?)
    } else {
        a.images
    };
    let engine = connect(docker_host).await?;
    println!("saving {} to {}", images.join(", "), a.archive.display());
    let size = image::save_images(&engine, &images, &a.archive)
        .await
        .map_err(classify_stack)?;
    println!("wrote {} ({} bytes)", a.archive.display(), size);
    Ok(Outcome::Success)
}

async fn load(a: LoadArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    if !a.file.is_file() {
        let what = format!("{} does not exist or is not a file", a.file.display());
        return Err(UsageError(what).into());
    }
    let engine = connect(docker_host).await?;
    for m in image::load_images(&engine, &a.file)
        .await
        .map_err(classify_stack)?
    {
        println!("{m}");
    }
    Ok(Outcome::Success)
}
