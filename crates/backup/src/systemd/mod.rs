//! systemd service + timer units that run mmctl's backups, pruning and drills unattended,
//! with sandboxing (ProtectSystem=strict, NoNewPrivileges, PrivateTmp, ReadWritePaths, ...).
//!
//! Units (systemd.service(5), systemd.timer(5), systemd.exec(5)):
//! `mmctl-backup-db` every 6 h (or every minute as page deltas, [`DbSchedule::MinutelyDeltas`]), `mmctl-backup-wallets` daily at 02:00, `mmctl-backup-prune`
//! daily at 04:30, `mmctl-drill` monthly, `mmctl-tls-renew` twice a day (as Debian's
//! certbot.timer: 00:00 and 12:00 plus up to 12 h at random; it renews only when due). Every service is `Type=oneshot` and calls mmctl
//! non-interactively; a non-zero exit (including 5, offsite failed) marks the unit failed.
//! Settings come from the `EnvironmentFile`; each service's header names the ones it needs
//! beyond the DB, recipients and S3 settings (the signing key path for backups and drills, the
//! trusted verify keys and the age identity for drills).

use std::path::{Path, PathBuf};

use serde::Serialize;

/// Inputs of the generated units.
#[derive(Debug, Clone)]
pub struct UnitConfig {
    /// Absolute path of the mmctl binary.
    pub mmctl: PathBuf,
    /// EnvironmentFile with MMKT_* settings (DB path, key file, recipients, signing key path,
    /// verify keys, S3, ...).
    pub env_file: PathBuf,
    /// Backup directory (writable by the services).
    pub backup_dir: PathBuf,
    /// Extra writable paths: the DB directory (SQLite's -shm), Docker volume paths.
    pub writable: Vec<PathBuf>,
    /// How often `mmctl-backup-db` runs, and what it writes.
    pub db_schedule: DbSchedule,
}

/// The schedule of the `mmctl-backup-db` units (`mmctl systemd install --db-schedule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DbSchedule {
    /// A standalone full backup every 6 hours (the default).
    #[default]
    SixHourlyFull,
    /// Every minute (`OnCalendar=minutely`), the next link of the page-delta chain: a delta
    /// when anything changed, nothing when nothing did, a new full once a day
    /// (`MMKT_BACKUP_DB_FULL_EVERY=24h` unless the EnvironmentFile sets it). One-minute RPO.
    MinutelyDeltas,
}

/// `mmctl-backup-db` as [`DbSchedule::MinutelyDeltas`] asks for it.
const DB_DELTAS_JOB: Job = Job {
    name: "mmctl-backup-db",
    description: "mmkt: one-minute page-delta backup of the SQLCipher database",
    args: "backup db",
    on_calendar: "minutely",
    randomized_delay: "0",
    accuracy: "1s",
    environment: "Environment=MMKT_BACKUP_DB_FULL_EVERY=24h\n",
    timeout: "2h",
    needs_docker: false,
    settings: "MMKT_BACKUP_SIGNING_KEY_FILE (outside the backup directory), optionally MMKT_BACKUP_DB_FULL_EVERY and MMKT_BACKUP_DB_MAX_DELTAS",
};

/// One generated unit file.
#[derive(Debug, Clone, Serialize)]
pub struct Unit {
    /// File name, e.g. `mmctl-backup-db.service`.
    pub name: String,
    /// File content.
    pub content: String,
}

struct Job {
    name: &'static str,
    description: &'static str,
    args: &'static str,
    on_calendar: &'static str,
    randomized_delay: &'static str,
    /// The timer's AccuracySec.
    accuracy: &'static str,
    /// `Environment=` lines before the EnvironmentFile (whose settings override them).
    environment: &'static str,
    timeout: &'static str,
    needs_docker: bool,
    /// The settings of the EnvironmentFile this job needs beyond the common ones.
    settings: &'static str,
}

/// What every job reads from the EnvironmentFile.
const COMMON_SETTINGS: &str =
    "MMKT_BACKUP_DIR, MMKT_DB_PATH, MMKT_DB_KEY_FILE, MMKT_BACKUP_RECIPIENTS, MMKT_S3_*";

const JOBS: [Job; 5] = [
    Job {
        name: "mmctl-backup-db",
        description: "mmkt: online encrypted backup of the SQLCipher database",
        args: "backup db",
        on_calendar: "*-*-* 00/6:00:00",
        accuracy: "1min",
        environment: "",
        randomized_delay: "5min",
        timeout: "2h",
        needs_docker: false,
        settings: "MMKT_BACKUP_SIGNING_KEY_FILE (outside the backup directory)",
    },
    Job {
        name: "mmctl-backup-wallets",
        description: "mmkt: encrypted backup of the wallet-rpc wallet directories",
        args: "backup wallets",
        on_calendar: "*-*-* 02:00:00",
        accuracy: "1min",
        environment: "",
        randomized_delay: "0",
        timeout: "1h",
        needs_docker: true,
        settings: "MMKT_BACKUP_SIGNING_KEY_FILE (outside the backup directory), MMKT_WALLET_PASSWORD_FILE",
    },
    Job {
        name: "mmctl-backup-prune",
        description: "mmkt: apply backup retention locally and on S3",
        args: "backup prune",
        on_calendar: "*-*-* 04:30:00",
        accuracy: "1min",
        environment: "",
        randomized_delay: "10min",
        timeout: "1h",
        needs_docker: false,
        settings: "MMKT_BACKUP_KEEP_*",
    },
    Job {
        name: "mmctl-drill",
        description: "mmkt: monthly disaster-recovery drill (backup, restore to scratch, verify)",
        args: "drill",
        on_calendar: "*-*-01 05:00:00",
        accuracy: "1min",
        environment: "",
        randomized_delay: "30min",
        timeout: "3h",
        needs_docker: true,
        settings: "MMKT_BACKUP_SIGNING_KEY_FILE, MMKT_BACKUP_VERIFY_KEYS, MMKT_BACKUP_IDENTITY_FILE, MMKT_WALLET_PASSWORD_FILE",
    },
    Job {
        name: "mmctl-tls-renew",
        description: "mmkt: renew nginx's TLS certificate when due (certbot, nginx -t, reload)",
        args: "tls renew",
        on_calendar: "*-*-* 00,12:00:00",
        accuracy: "1min",
        environment: "",
        randomized_delay: "12h",
        timeout: "15min",
        needs_docker: true,
        settings: "MMCTL_COMPOSE_FILE (absolute), MMCTL_ENV and the environment's MMKT_TLS_*",
    },
];

/// The hardening block shared by every service.
fn hardening(config: &UnitConfig, needs_docker: bool) -> String {
    let mut writable: Vec<String> = vec![config.backup_dir.display().to_string()];
    writable.extend(config.writable.iter().map(|p| format!("-{}", p.display())));
    if needs_docker {
        writable.push("-/run/docker.sock".into());
    }
    format!(
        "UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={writable}
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
CapabilityBoundingSet=CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_CHOWN
",
        writable = writable.join(" ")
    )
}

/// Generates the service and timer units, in a stable order.
pub fn units(config: &UnitConfig) -> Vec<Unit> {
    let mut units = Vec::new();
    let db_deltas = config.db_schedule == DbSchedule::MinutelyDeltas;
    for job in JOBS.iter().map(|job| match job.name {
        "mmctl-backup-db" if db_deltas => &DB_DELTAS_JOB,
        _ => job,
    }) {
        let docker_deps = if job.needs_docker {
            " docker.service"
        } else {
            ""
        };
        let service = format!(
            "# Generated by `mmctl systemd install`; see docs/BACKUP.md.
# {env_file} sets {COMMON_SETTINGS}
# and {settings}.
[Unit]
Description={description}
Documentation=https://github.com/mmkt/mmkt/blob/main/docs/BACKUP.md
Wants=network-online.target
After=network-online.target{docker_deps}

[Service]
Type=oneshot
{environment}EnvironmentFile={env_file}
ExecStart={mmctl} {args}
Nice=10
IOSchedulingClass=best-effort
IOSchedulingPriority=7
TimeoutStartSec={timeout}
MemoryMax=512M
{hardening}",
            description = job.description,
            env_file = config.env_file.display(),
            mmctl = config.mmctl.display(),
            args = job.args,
            settings = job.settings,
            timeout = job.timeout,
            environment = job.environment,
            hardening = hardening(config, job.needs_docker),
        );
        let timer = format!(
            "# Generated by `mmctl systemd install`; see docs/BACKUP.md.
[Unit]
Description=Schedule: {description}

[Timer]
OnCalendar={on_calendar}
Persistent=true
RandomizedDelaySec={delay}
AccuracySec={accuracy}
Unit={name}.service

[Install]
WantedBy=timers.target
",
            description = job.description,
            on_calendar = job.on_calendar,
            delay = job.randomized_delay,
            accuracy = job.accuracy,
            name = job.name,
        );
        units.push(Unit {
            name: format!("{}.service", job.name),
            content: service,
        });
        units.push(Unit {
            name: format!("{}.timer", job.name),
            content: timer,
        });
    }
    units
}

/// Writes the units into `dir` (created if needed), each atomically (temp file + rename), mode 0644.
///
/// # Errors
/// The I/O error with the file it concerned.
pub fn install(dir: &Path, units: &[Unit]) -> Result<Vec<PathBuf>, std::io::Error> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for unit in units {
        let path = dir.join(&unit.name);
        let temp = dir.join(format!(".{}.tmp-{}", unit.name, std::process::id()));
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(unit.content.as_bytes())?;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        file.sync_all()?;
        std::fs::rename(&temp, &path)?;
        written.push(path);
    }
    Ok(written)
}
