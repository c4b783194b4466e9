//! What a deploy or rollback did: one [`StepReport`] per step, the [`DeployOutcome`] (an
//! automatic rollback is an outcome, not an error), and the [`DeployProgress`] callback that
//! hears each step start and end.

use std::time::Instant;

use serde::Serialize;

/// The steps of a deploy or rollback, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Take the project's deploy lock.
    Lock,
    /// Pre-deploy backup of the database (or the recorded reason to skip it).
    Backup,
    /// The new image is local (loaded from a file when given); nothing is pulled.
    Image,
    /// nginx pinned to blue's IP, so green takes no traffic yet; skipped when green starts
    /// off nginx's networks (joined at [`Step::Switch`]).
    Pin,
    /// Green created beside blue (same volumes, networks, environment).
    Green,
    /// Green answers `/ready` with 200.
    Ready,
    /// Smoke checks against green directly.
    Smoke,
    /// nginx pinned to green's IP (`nginx -t`, `nginx -s reload`), where it stays.
    Switch,
    /// The escrow runner lease moved from blue to green.
    Lease,
    /// Green's 5xx rate watched on its `/metrics`.
    Watch,
    /// Blue drained, stopped and removed (its image is kept).
    Drain,
    /// The refused-restore check of a rollback (whether the database may be restored).
    RestoreDb,
    /// `--restore-db`: blue stopped, so nothing writes between the check and the restore.
    StopBlue,
    /// `--restore-db`: the escrow events counted again, then the pre-deploy backup restored
    /// into the live database (the current one kept as a pre-restore copy).
    Restore,
    /// Back to blue after a failed watch, or after a `--restore-db` rollback failed once
    /// blue was stopped (its database put back first).
    Rollback,
    /// The deploy recorded in the history on the target host.
    History,
}

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Done.
    Ok,
    /// Not applicable or not asked for (the detail says why).
    Skipped,
    /// Failed (the deploy stopped or rolled back).
    Failed,
}

/// One step's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// Which step.
    pub step: Step,
    /// How it ended.
    pub status: StepStatus,
    /// What was done or seen, for the operator.
    pub detail: String,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

/// How a deploy that ran to its end came out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DeployOutcome {
    /// Green serves; blue is stopped and removed, its image kept.
    Deployed,
    /// Green's 5xx rate breached during the watch: traffic and lease are back on blue, green
    /// is removed.
    RolledBack {
        /// What the watch saw.
        reason: String,
    },
    /// The deploy stopped with an error before or while switching; blue kept serving.
    Failed {
        /// The error message.
        error: String,
    },
}

/// One server version on the target host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Release {
    /// The image tag (`MMKT_VERSION`), e.g. `v2`.
    pub version: String,
    /// The local image ID (`sha256:...`).
    pub image_id: String,
    /// The container that runs (or ran) it.
    pub container: String,
}

/// The report of a deploy or a rollback, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    /// Unique id of this run (also in green's container name).
    pub id: String,
    /// `deploy` or `rollback`.
    pub kind: RunKind,
    /// The environment (`--env`).
    pub env: String,
    /// The compose project.
    pub project: String,
    /// What runs after a successful run.
    pub target: Option<Release>,
    /// What ran before.
    pub previous: Option<Release>,
    /// The pre-deploy backup's id, when one was taken.
    pub backup_id: Option<String>,
    /// Why the backup was skipped (`--reason`), when it was.
    pub backup_skipped: Option<String>,
    /// `PRAGMA user_version` before and after, when the database was given.
    pub schema: SchemaChange,
    /// The backup a `--restore-db` rollback restored into the live database (`None` when the
    /// database was kept, or put back after a failure).
    pub restored_db: Option<String>,
    /// Every step that ran, in order.
    pub steps: Vec<StepReport>,
    /// How it came out.
    #[serde(flatten)]
    pub outcome: DeployOutcome,
    /// Start and end (RFC 3339, UTC).
    pub started_at: String,
    /// See `started_at`.
    pub finished_at: String,
}

/// Whether this run changed the database schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SchemaChange {
    /// Schema version before the new version started (`None`: database not given).
    pub before: Option<i64>,
    /// Schema version once the new version was ready.
    pub after: Option<i64>,
}

impl SchemaChange {
    /// `Some(true)` when both versions are known and differ.
    pub fn migrated(&self) -> Option<bool> {
        Some(self.before? != self.after?)
    }
}

/// Deploy or rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// `mmctl deploy`.
    Deploy,
    /// `mmctl rollback`.
    Rollback,
}

/// Hears each step start and end (mmctl prints one line per step).
pub trait DeployProgress: Sync {
    /// A step begins.
    fn started(&self, step: Step);
    /// A step ended.
    fn finished(&self, report: &StepReport);
}

/// A progress callback that discards everything (tests, library callers).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl DeployProgress for NoProgress {
    fn started(&self, _step: Step) {}
    fn finished(&self, _report: &StepReport) {}
}

/// Collects step reports while forwarding them to a [`DeployProgress`].
pub(crate) struct Steps<'a> {
    progress: &'a dyn DeployProgress,
    pub(crate) done: Vec<StepReport>,
    current: Option<(Step, Instant)>,
}

impl<'a> Steps<'a> {
    pub(crate) fn new(progress: &'a dyn DeployProgress) -> Self {
        Steps {
            progress,
            done: Vec::new(),
            current: None,
        }
    }

    /// Starts `step`.
    pub(crate) fn start(&mut self, step: Step) {
        self.current = Some((step, Instant::now()));
        self.progress.started(step);
    }

    /// Ends the current step with `status` and `detail`.
    pub(crate) fn end(&mut self, status: StepStatus, detail: impl Into<String>) {
        let Some((step, began)) = self.current.take() else {
            return;
        };
        let report = StepReport {
            step,
            status,
            detail: detail.into(),
            millis: u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        self.progress.finished(&report);
        self.done.push(report);
    }

    /// Ends the current step as failed with the error's message (if one is running).
    pub(crate) fn fail_current(&mut self, error: &dyn std::fmt::Display) {
        if self.current.is_some() {
            self.end(StepStatus::Failed, error.to_string());
        }
    }
}

/// Now, RFC 3339 UTC.
pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
