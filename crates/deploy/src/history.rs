//! The deploy history of a compose project, kept on the target host: JSON lines in the file
//! `history.jsonl` of the volume `{project}_deploy-history`, read and written through a
//! helper container that is never started (so it works through a remote engine, and survives
//! mmctl running from another machine).

use std::collections::HashMap;

use mmkt_stack::{Engine, labels};
use serde::{Deserialize, Serialize};

use crate::error::DeployError;
use crate::report::{DeployOutcome, DeployReport, Release, RunKind, SchemaChange};
use crate::target::SERVER;

/// The file inside the history volume.
pub const HISTORY_FILE: &str = "history.jsonl";

/// The history volume's name for `project`.
pub fn history_volume(project: &str) -> String {
    format!("{project}_deploy-history")
}

/// How a recorded run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recorded {
    /// The target version serves.
    Deployed,
    /// The watch breached and blue serves again.
    RolledBack,
    /// Stopped with an error; the previous version kept serving.
    Failed,
}

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The run's id.
    pub id: String,
    /// Deploy or rollback.
    pub kind: RunKind,
    /// The environment.
    pub env: String,
    /// The version the run started (tag, image id, container).
    pub target: Option<Release>,
    /// The version that served before.
    pub previous: Option<Release>,
    /// When it started and ended (RFC 3339).
    pub started_at: String,
    /// See `started_at`.
    pub finished_at: String,
    /// The pre-deploy backup's id.
    pub backup_id: Option<String>,
    /// Why the backup was skipped.
    pub backup_skipped: Option<String>,
    /// Rows of the escrow audit trail in the pre-deploy backup (what a restore keeps).
    pub backup_escrow_events: Option<u64>,
    /// Schema versions before and after.
    pub schema: SchemaChange,
    /// Whether the new version migrated the schema (`None`: unknown).
    pub migrated: Option<bool>,
    /// The backup a `--restore-db` rollback restored (absent otherwise, and in older lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_db: Option<String>,
    /// How it ended.
    pub outcome: Recorded,
    /// The error or the watch breach, when not deployed.
    pub reason: Option<String>,
}

impl HistoryEntry {
    /// The history line of a finished run.
    pub fn from_report(report: &DeployReport, backup_escrow_events: Option<u64>) -> Self {
        let (outcome, reason) = match &report.outcome {
            DeployOutcome::Deployed => (Recorded::Deployed, None),
            DeployOutcome::RolledBack { reason } => (Recorded::RolledBack, Some(reason.clone())),
            DeployOutcome::Failed { error } => (Recorded::Failed, Some(error.clone())),
        };
        HistoryEntry {
            id: report.id.clone(),
            kind: report.kind,
            env: report.env.clone(),
            target: report.target.clone(),
            previous: report.previous.clone(),
            started_at: report.started_at.clone(),
            finished_at: report.finished_at.clone(),
            backup_id: report.backup_id.clone(),
            backup_skipped: report.backup_skipped.clone(),
            backup_escrow_events,
            schema: report.schema,
            migrated: report.schema.migrated(),
            restored_db: report.restored_db.clone(),
            outcome,
            reason,
        }
    }
}

/// Reads and appends the history of one project, using `image` (any local image) for the
/// helper container.
#[derive(Debug, Clone)]
pub struct History<'a> {
    engine: &'a Engine,
    project: String,
    image: String,
}

impl<'a> History<'a> {
    /// The history of `project`, read through a helper of `image`.
    pub fn new(engine: &'a Engine, project: &str, image: &str) -> Self {
        History {
            engine,
            project: project.to_string(),
            image: image.to_string(),
        }
    }

    /// The history of `project`, read through a helper of the image of its newest server
    /// container.
    ///
    /// # Errors
    /// [`DeployError::Stack`] when the project has no server container, [`DeployError::Engine`].
    pub async fn of_project(engine: &'a Engine, project: &str) -> Result<Self, DeployError> {
        let containers = engine.service_containers(project, SERVER).await?;
        let image = containers.last().and_then(|c| c.image.clone()).ok_or_else(|| {
            DeployError::Stack(format!(
                "project {project} has no server container to read the deploy history with; run `mmctl up` first"
            ))
        })?;
        Ok(History::new(engine, project, &image))
    }

    fn helper_labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (labels::PROJECT.to_string(), self.project.clone()),
            (labels::CREATED_BY.to_string(), "mmctl".to_string()),
        ])
    }

    /// Every entry, oldest first (empty when nothing was recorded yet).
    ///
    /// Engine API: see [`Engine::read_volume_file`].
    ///
    /// # Errors
    /// [`DeployError::History`] for a line that does not parse, [`DeployError::Engine`].
    pub async fn entries(&self) -> Result<Vec<HistoryEntry>, DeployError> {
        let volume = history_volume(&self.project);
        if self.engine.volume_labels(&volume).await?.is_none() {
            return Ok(Vec::new());
        }
        let bytes = self
            .engine
            .read_volume_file(&volume, &self.image, &self.helper_labels(), HISTORY_FILE)
            .await?
            .unwrap_or_default();
        parse_lines(&String::from_utf8_lossy(&bytes))
            .map_err(|detail| DeployError::History { volume, detail })
    }

    /// Appends `entry` (creating the volume, labelled with the project, on first use).
    ///
    /// Engine API: `POST /volumes/create`, then see [`Engine::write_volume_file`].
    ///
    /// # Errors
    /// [`DeployError::History`], [`DeployError::Engine`].
    pub async fn append(&self, entry: &HistoryEntry) -> Result<(), DeployError> {
        let volume = history_volume(&self.project);
        let labels = HashMap::from([
            (labels::PROJECT.to_string(), self.project.clone()),
            (labels::CREATED_BY.to_string(), "mmctl".to_string()),
        ]);
        self.engine.create_or_get_volume(&volume, labels).await?;
        let mut text = String::new();
        for e in self.entries().await? {
            text.push_str(&line(&e));
        }
        text.push_str(&line(entry));
        self.engine
            .write_volume_file(
                &volume,
                &self.image,
                &self.helper_labels(),
                HISTORY_FILE,
                text.as_bytes(),
            )
            .await?;
        Ok(())
    }
}

fn line(entry: &HistoryEntry) -> String {
    let mut l = serde_json::to_string(entry).unwrap_or_default();
    l.push('\n');
    l
}

/// Parses JSON lines (blank lines ignored).
fn parse_lines(text: &str) -> Result<Vec<HistoryEntry>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// The run whose version serves now, by the history: the last entry whose outcome is
/// [`Recorded::Deployed`].
pub fn current(entries: &[HistoryEntry]) -> Option<&HistoryEntry> {
    entries
        .iter()
        .rev()
        .find(|e| e.outcome == Recorded::Deployed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, outcome: Recorded) -> HistoryEntry {
        HistoryEntry {
            id: id.into(),
            kind: RunKind::Deploy,
            env: "test".into(),
            target: None,
            previous: None,
            started_at: String::new(),
            finished_at: String::new(),
            backup_id: None,
            backup_skipped: None,
            backup_escrow_events: None,
            schema: SchemaChange::default(),
            migrated: None,
            restored_db: None,
            outcome,
            reason: None,
        }
    }

    #[test]
    fn lines_round_trip_and_the_current_entry_is_the_last_deployed() {
        let entries = vec![
            entry("a", Recorded::Deployed),
            entry("b", Recorded::RolledBack),
        ];
        let text: String = entries.iter().map(line).collect();
        let parsed = parse_lines(&format!("{text}\n")).unwrap();
        assert_eq!(parsed, entries);
        assert_eq!(current(&parsed).unwrap().id, "a");
        assert!(parse_lines("{not json\n").unwrap_err().contains("line 1"));
    }
}
