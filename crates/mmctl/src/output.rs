//! Shared terminal output helpers: colour styling, durations, progress and sizes. Data for
//! scripts goes to stdout (`--json`); diagnostics and progress go to stderr.

use std::io::IsTerminal;
use std::time::Duration;

/// Terminal styling: colour only when stdout is a terminal and NO_COLOR is not set.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    /// Detects the terminal and NO_COLOR.
    pub fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && std::io::stdout().is_terminal(),
        }
    }

    /// Green text (success).
    pub fn ok(&self, s: &str) -> String {
        self.paint("32", s)
    }

    /// Red text (failure).
    pub fn bad(&self, s: &str) -> String {
        self.paint("31", s)
    }

    /// Yellow text (in progress / changed).
    pub fn warn(&self, s: &str) -> String {
        self.paint("33", s)
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// A duration the way `mmctl status` shows uptimes: `42s`, `3m12s`, `3h12m`, `2d5h`.
pub fn format_uptime(uptime: Duration) -> String {
    match uptime.as_secs() {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{}s", s / 60, s % 60),
        s if s < 86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}

// Progress and size helpers for the backup commands.

use std::io::{BufRead, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use mmkt_backup::BackupError;
use mmkt_backup::manifest::{BackupKind, Manifest};
use mmkt_backup::ops::backup::{BackupReport, BackupRequest, Fresh, OffsiteOutcome, backup};
use mmkt_backup::ops::restore::{Confirmed, RestorePlan};
use mmkt_backup::progress::{Progress, Step};
use mmkt_backup::store::LocalBackup;

use crate::args::ConfirmArgs;
use crate::exit::{NotConfirmed, Outcome};

/// How a command prints its result on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Lines for people.
    Text,
    /// JSON for scripts (`--json`).
    Json,
}

/// Human size: 1.5 MiB.
pub fn human_bytes(n: u64) -> String {
    indicatif::BinaryBytes(n).to_string()
}

/// A byte progress bar (or a spinner without a total) on stderr when it is a terminal;
/// hidden otherwise (cron, systemd, pipes).
fn progress_bar(total: Option<u64>, message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(len) => ProgressBar::new(len),
        None => ProgressBar::new_spinner(),
    };
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(message.to_owned());
    bar
}

/// The backup library's progress on the terminal: transfers as an indicatif bar on stderr
/// (only when stderr is a terminal), milestones as lines on stderr.
#[derive(Debug, Default)]
pub struct TerminalProgress {
    bar: Mutex<Option<ProgressBar>>,
}

impl TerminalProgress {
    fn set_bar(&self, bar: Option<ProgressBar>) {
        let mut current = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = std::mem::replace(&mut *current, bar) {
            old.finish_and_clear();
        }
    }
}

impl Progress for TerminalProgress {
    fn step(&self, step: Step<'_>) {
        match step {
            Step::Transfer { label, total } => self.set_bar(Some(progress_bar(total, label))),
            Step::TransferDone => self.set_bar(None),
            Step::KeyFileCreated { path } => eprintln!(
                "created a new key file {} (keep a copy with your secrets)",
                path.display()
            ),
            Step::Downloading {
                id,
                bytes,
                bucket,
                key,
            } => eprintln!(
                "downloading {id} ({}) from s3://{bucket}/{key}",
                human_bytes(bytes)
            ),
            Step::DbVerified { id, pages } => eprintln!(
                "verified {id}: {pages} pages, integrity ok, row counts match the manifest"
            ),
            Step::NoContainer { project, service } => eprintln!(
                "note: project {project} has no {service} container; nothing to stop or start"
            ),
            Step::PreviousDbKept { path } => {
                eprintln!("previous database kept as {}", path.display())
            }
            Step::WalletsChecked {
                id,
                opened: Some(n),
            } => eprintln!("verified {id}: {n} wallet(s) open with their recorded addresses"),
            Step::WalletsChecked { opened: None, .. } => eprintln!(
                "note: set MMKT_WALLET_PASSWORD_FILE to check each wallet opens with its recorded address"
            ),
            Step::CurrentWalletsBackedUp { id } => {
                eprintln!("current directory backed up as {id}")
            }
            Step::LiveWalletsChecked { url, count } => eprintln!(
                "live wallet-rpc {url}: {count} wallet(s) open with their recorded addresses"
            ),
            _ => {}
        }
    }

    fn bytes(&self, done: u64) {
        let current = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bar) = current.as_ref() {
            bar.set_position(done);
        }
    }
}

/// Runs a backup request with [`TerminalProgress`], then [`print_backups`] its reports.
///
/// # Errors
/// The backup's [`BackupError`] (nothing is printed then).
pub async fn backup_and_print(
    request: &BackupRequest<'_>,
    format: Format,
) -> Result<Outcome, BackupError> {
    let reports = backup(request, &TerminalProgress::default()).await?;
    Ok(print_backups(&reports, format))
}

/// Prints fresh backups (their manifests as a JSON array, or one paragraph each) and their
/// offsite copies; `OffsiteFailed` (exit 5) when an upload failed, the local copies being kept.
/// An unchanged database (nothing written) is a line on stderr, and no manifest.
pub fn print_backups(reports: &[BackupReport], format: Format) -> Outcome {
    let (written, unchanged): (Vec<&BackupReport>, Vec<&BackupReport>) =
        reports.iter().partition(|r| r.fresh == Fresh::Written);
    for r in unchanged {
        eprintln!(
            "database unchanged since {}: nothing written",
            r.backup.manifest.id
        );
    }
    if format == Format::Json {
        let manifests: Vec<&Manifest> = written.iter().map(|r| &r.backup.manifest).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&manifests).expect("manifests serialize")
        );
    } else {
        written.iter().for_each(|r| print_created(&r.backup));
    }
    let mut outcome = Outcome::Success;
    for report in reports {
        let id = &report.backup.manifest.id;
        match &report.offsite {
            OffsiteOutcome::Uploaded { bucket, prefix } if format == Format::Text => {
                println!("offsite copy of {id} uploaded to s3://{bucket}/{prefix}")
            }
            OffsiteOutcome::Failed { reason } => {
                eprintln!(
                    "error: offsite copy of {id} failed: {reason}\n  the local backup is kept at {}; retry with `mmctl backup upload`",
                    report.backup.data_path.display()
                );
                outcome = Outcome::OffsiteFailed;
            }
            _ => {}
        }
    }
    outcome
}

fn print_created(backup: &LocalBackup) {
    let m = &backup.manifest;
    let integrity =
        m.db.as_ref()
            .map(|d| format!(", integrity_check {}", d.snapshot.integrity_check))
            .unwrap_or_default();
    let wallets = m
        .wallets
        .as_ref()
        .map(|w| {
            format!(
                ", {} wallet(s), consistency {:?}",
                w.wallets.len(),
                w.consistency
            )
        })
        .unwrap_or_default();
    let onion = m
        .tor
        .as_ref()
        .map(|t| format!(", onion-service keys of {}", t.onion_address))
        .unwrap_or_default();
    println!(
        "backup {} written: {} plain -> {} encrypted in {:.1}s{integrity}{wallets}{onion}\n  {}\n  sha256 {}",
        m.id,
        human_bytes(m.plain_size),
        human_bytes(m.encrypted_size),
        m.duration_seconds,
        backup.data_path.display(),
        m.sha256
    );
}

/// One line describing a backup for a confirmation question: id, time, host, content.
fn describe(backup: &LocalBackup) -> String {
    let m = &backup.manifest;
    let when = m
        .created_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    match (m.kind, &m.db, &m.wallets) {
        (BackupKind::Db, db, _) => format!(
            "backup {} taken {when} on {} ({}, schema version {})",
            m.id,
            m.source_host,
            db.as_ref()
                .map(|d| match &d.chain {
                    // A delta records no row counts: its content is its pages.
                    Some(link) => format!("delta of {} changed pages", link.changed_pages),
                    None => format!("{} rows", d.snapshot.row_counts.values().sum::<u64>()),
                })
                .unwrap_or_default(),
            db.as_ref().map(|d| d.snapshot.schema_version).unwrap_or(0)
        ),
        (BackupKind::Wallets, _, wallets) => format!(
            "backup {} taken {when} on {} ({} wallet(s))",
            m.id,
            m.source_host,
            wallets.as_ref().map(|w| w.wallets.len()).unwrap_or(0)
        ),
        (BackupKind::Tor, _, _) => format!(
            "backup {} taken {when} on {} (onion-service keys of {})",
            m.id,
            m.source_host,
            m.tor
                .as_ref()
                .map(|t| t.onion_address.as_str())
                .unwrap_or("?")
        ),
    }
}

/// Asks "Restore WHAT from BACKUP?" (then `consequences`) yes/no on the terminal, unless
/// `--yes` was given; refuses without a terminal, and when the answer cannot be read.
pub fn confirm_restore<T>(
    what: &str,
    plan: &RestorePlan<T>,
    consequences: &str,
    args: &ConfirmArgs,
) -> Result<Confirmed, NotConfirmed> {
    let question = format!(
        "Restore {what} from {}?\n{consequences}",
        describe(plan.backup())
    );
    confirm(&question, args).map(|()| Confirmed::by_operator())
}

/// Asks `question` yes/no on the terminal unless `--yes` was given; refuses without a
/// terminal, and when the answer cannot be read.
///
/// # Errors
/// [`NotConfirmed`] (exit 4): no terminal, no answer, or not "yes".
pub fn confirm(question: &str, args: &ConfirmArgs) -> Result<(), NotConfirmed> {
    if args.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(NotConfirmed(format!(
            "{question}\nrefusing without --yes: stdin is not a terminal"
        )));
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    if let Err(e) = std::io::stdin().lock().read_line(&mut answer) {
        return Err(NotConfirmed(format!(
            "cannot read the answer ({e}); nothing was changed"
        )));
    }
    if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
        return Ok(());
    }
    Err(NotConfirmed("not confirmed; nothing was changed".into()))
}
