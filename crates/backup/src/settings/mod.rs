//! mmctl's resolved settings and where each came from: the per-environment config file
//! (`file.rs`, `deploy/env/<env>.mmctl.toml`) and the running stack's volumes
//! (`stack_paths.rs`); the process environment and the command line override both.

pub mod file;
pub mod stack_paths;

use std::path::PathBuf;

pub use file::{FileError, MmctlFile};
pub use stack_paths::{StackPaths, server_paths, textfile_dir};

/// Where a setting's value came from, weakest first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// mmctl's built-in default.
    Default,
    /// The per-environment config file.
    File(PathBuf),
    /// A mount of the running stack's container (the named volume when there is one).
    Volume(String),
    /// A process environment variable (its name).
    Env(String),
    /// A command-line flag.
    Flag,
}

impl Source {
    /// A short label: `default`, `file`, `volume`, `env` or `flag`.
    pub fn label(&self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File(_) => "file",
            Source::Volume(_) => "volume",
            Source::Env(_) => "env",
            Source::Flag => "flag",
        }
    }

    /// What exactly: the file, volume or variable, when there is one.
    pub fn detail(&self) -> Option<String> {
        match self {
            Source::Default | Source::Flag => None,
            Source::File(path) => Some(path.display().to_string()),
            Source::Volume(name) | Source::Env(name) => Some(name.clone()),
        }
    }
}
