//! `mmctl`, the mmkt operations CLI, as a library: the clap definition ([`cli::Cli`]), the
//! shared argument groups ([`args`]), one module per subcommand ([`cmd`]), terminal output
//! helpers ([`output`]), the exit-code contract ([`exit`]) and the runs' freshness metrics
//! ([`freshness`]). The binary (`src/main.rs`) only
//! parses, runs and maps the result to an exit code; tests parse documented command lines
//! through [`cli::Cli`]. The workflows live in the library crates `mmkt-stack` (the Docker stack
//! through the Engine API) and `mmkt-backup` (backups, restores, drills), and `mmkt-deploy` (blue/green deploys and rollbacks,
//! printed by [`deploy_output`]).

pub mod accounts;
pub mod args;
pub mod cli;
pub mod cmd;
pub mod deploy_output;
pub mod exit;
pub mod freshness;
pub mod output;
pub mod secrets;
pub mod settings;
