//! The freshness metrics of one mmctl run (`mmkt_backup::freshness`): which jobs the command
//! counts as, where node-exporter's textfile directory is, and the one write after the command
//! ran ([`crate::cmd::run`]). Writing them never changes the run's exit code; a skip or a
//! failure is said on stderr.

use std::path::PathBuf;
use std::time::SystemTime;

use mmkt_backup::freshness::{self, Job, Run, RunResult};
use mmkt_backup::settings::textfile_dir;

use crate::args::connect;
use crate::cli::{Cli, Command};
use crate::cmd::backup::BackupCommand;
use crate::exit::Outcome;
use crate::settings::project_name;

/// What a run records: its jobs and where their files go.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// The jobs the command counts as (none for most commands).
    jobs: Vec<Job>,
    /// `--metrics-textfile-dir`, `MMKT_METRICS_TEXTFILE_DIR` or the config file's
    /// `metrics_textfile_dir`.
    dir: Option<PathBuf>,
    /// The compose project whose `node-textfile` volume is the directory otherwise.
    project: String,
    /// The engine of that project.
    docker_host: Option<String>,
}

/// Where the files go, or why they are not written.
enum Target {
    Dir(PathBuf),
    Skip(String),
}

impl Recorder {
    /// The recorder of `cli`'s command (after `cli.global.docker_host` is resolved):
    /// `backup db` -> backup_db, `backup wallets` of every role -> backup_wallets, `backup tor`
    /// -> backup_tor, `backup all` -> backup_db and backup_wallets, `drill` -> drill, `deploy`
    /// (the deploy itself) -> deploy; nothing otherwise.
    pub fn for_command(cli: &Cli) -> Recorder {
        let (jobs, project) = match &cli.command {
            Command::Backup(a) => match &a.command {
                BackupCommand::Db(_) => (vec![Job::BackupDb], project_name()),
                BackupCommand::Wallets(w) if w.role.is_none() => {
                    (vec![Job::BackupWallets], w.source.project.clone())
                }
                BackupCommand::Tor(t) => (vec![Job::BackupTor], t.project.clone()),
                BackupCommand::All(a) => (
                    vec![Job::BackupDb, Job::BackupWallets],
                    a.source.project.clone(),
                ),
                _ => (Vec::new(), String::new()),
            },
            Command::Drill(a) => (vec![Job::Drill], a.source.project.clone()),
            Command::Deploy(a) if a.command.is_none() => {
                (vec![Job::Deploy], a.run.stack.project.clone())
            }
            _ => (Vec::new(), String::new()),
        };
        Recorder {
            jobs,
            dir: cli.global.metrics_textfile_dir.clone(),
            project,
            docker_host: cli.global.docker_host.clone(),
        }
    }

    /// Moves the jobs into the returned recorder, leaving this one recording nothing (for a
    /// command that records each of its own runs, such as `backup db --every`).
    pub fn take(&mut self) -> Recorder {
        Recorder {
            jobs: std::mem::take(&mut self.jobs),
            ..self.clone()
        }
    }

    /// Records the run for each job given its `outcome` (`None`: it ended with an error): a
    /// success only for [`Outcome::Success`] (an offsite copy that failed, a failed drill check
    /// or a rolled-back deploy is a failed run).
    pub async fn record(&self, outcome: Option<Outcome>) {
        if self.jobs.is_empty() {
            return;
        }
        let dir = match self.target().await {
            Target::Dir(dir) => dir,
            Target::Skip(why) => {
                eprintln!(
                    "note: freshness metrics not written: {why}; set MMKT_METRICS_TEXTFILE_DIR (or metrics_textfile_dir, --metrics-textfile-dir) to node-exporter's textfile directory"
                );
                return;
            }
        };
        let result = match outcome {
            Some(Outcome::Success) => RunResult::Succeeded,
            _ => RunResult::Failed,
        };
        let at = SystemTime::now();
        for &job in &self.jobs {
            if let Err(e) = freshness::record(&dir, Run { job, result, at }) {
                eprintln!(
                    "warning: the {} freshness metrics were not written (the run's own result stands): {e}",
                    job.as_str()
                );
            }
        }
    }

    /// The configured directory, else the host path of the stack's `node-textfile` volume.
    async fn target(&self) -> Target {
        if let Some(dir) = &self.dir {
            return Target::Dir(dir.clone());
        }
        let engine = match connect(self.docker_host.as_deref()).await {
            Ok(engine) => engine,
            Err(e) => return Target::Skip(format!("{e:#}")),
        };
        match textfile_dir(&engine, &self.project).await {
            Ok(Ok(found)) => Target::Dir(found.path),
            Ok(Err(why)) => Target::Skip(why),
            Err(e) => Target::Skip(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn jobs(args: &[&str]) -> Vec<Job> {
        let cli = Cli::try_parse_from([&["mmctl"], args].concat()).unwrap();
        Recorder::for_command(&cli).jobs
    }

    #[test]
    fn each_scheduled_command_is_its_job_and_others_record_nothing() {
        assert_eq!(jobs(&["backup", "db"]), [Job::BackupDb]);
        assert_eq!(jobs(&["backup", "wallets"]), [Job::BackupWallets]);
        assert_eq!(jobs(&["backup", "tor"]), [Job::BackupTor]);
        assert_eq!(
            jobs(&["backup", "all"]),
            [Job::BackupDb, Job::BackupWallets]
        );
        assert_eq!(jobs(&["drill"]), [Job::Drill]);
        assert_eq!(jobs(&["deploy", "--env", "production"]), [Job::Deploy]);
        // One role is not the whole wallet backup; the deploy's info commands deploy nothing.
        for args in [
            &["backup", "wallets", "buyer"][..],
            &["backup", "list"],
            &["backup", "verify"],
            &["deploy", "status", "--env", "production"],
            &["rollback", "--env", "production"],
            &["status"],
        ] {
            assert_eq!(jobs(args), [], "{args:?}");
        }
    }

    #[test]
    fn the_directory_flag_is_global() {
        let cli =
            Cli::try_parse_from(["mmctl", "backup", "db", "--metrics-textfile-dir", "/t"]).unwrap();
        assert_eq!(
            Recorder::for_command(&cli).dir.as_deref(),
            Some(std::path::Path::new("/t"))
        );
    }
}
