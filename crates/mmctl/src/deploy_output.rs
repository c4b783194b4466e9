//! Terminal output of `mmctl deploy` and `mmctl rollback`: one line per step on stderr (a
//! spinner while a step runs, only when stderr is a terminal), the report as JSON or a
//! summary on stdout, and the outcome's exit code.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use mmkt_deploy::DeployError;
use mmkt_deploy::deploy::DeployFailure;
use mmkt_deploy::report::{
    DeployOutcome, DeployProgress, DeployReport, Step, StepReport, StepStatus,
};

use crate::exit::Outcome;
use crate::output::{Format, Style};

/// [`DeployProgress`] on stderr.
#[derive(Debug, Default)]
pub struct StepLines {
    spinner: Mutex<Option<ProgressBar>>,
}

fn step_name(step: Step) -> String {
    serde_json::to_value(step)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl DeployProgress for StepLines {
    fn started(&self, step: Step) {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(step_name(step));
        bar.enable_steady_tick(Duration::from_millis(120));
        *self.spinner.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
    }

    fn finished(&self, report: &StepReport) {
        if let Some(bar) = self
            .spinner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            bar.finish_and_clear();
        }
        let style = Style::detect();
        let status = match report.status {
            StepStatus::Ok => style.ok("ok"),
            StepStatus::Skipped => style.warn("skipped"),
            StepStatus::Failed => style.bad("FAILED"),
        };
        eprintln!(
            "{:<10} {status} {} ({} ms)",
            step_name(report.step),
            report.detail,
            report.millis
        );
    }
}

/// Prints a finished run (JSON report, or a summary) and returns its outcome.
pub fn print_report(report: &DeployReport, format: Format) -> Outcome {
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    }
    let target = report
        .target
        .as_ref()
        .map(|t| t.version.as_str())
        .unwrap_or("?");
    match &report.outcome {
        DeployOutcome::RolledBack { reason } => {
            eprintln!("rolled back automatically: {reason}; the previous version serves");
            Outcome::RolledBack
        }
        _ => {
            if format == Format::Text {
                println!(
                    "{target} serves {} in environment {} (run {})",
                    report.project, report.env, report.id
                );
            }
            Outcome::Success
        }
    }
}

/// Prints a failed run's report (with `--json`) and gives back its error.
pub fn failed(failure: DeployFailure, format: Format) -> DeployError {
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&failure.report).unwrap_or_default()
        );
    }
    failure.error
}

/// `user@host` of this process, for the deploy lock.
pub fn holder() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into());
    format!("{user}@{host}")
}
