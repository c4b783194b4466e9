//! The rendered Alertmanager config at `up`: each selected service with
//! `x-mmkt-alertmanager-config` has its template rendered before anything is created, then the
//! file written into its config volume through a never-started helper container (so no secret
//! appears in `docker inspect`), only when its content changed.

use std::collections::{BTreeSet, HashMap};

use serde::Deserialize;

use super::{Integration, Rendered, render};
use crate::engine::Engine;
use crate::environments::environment_of;
use crate::error::StackError;
use crate::labels;
use crate::secret_files::require_named_mount;
use crate::spec::{resolve_host_path, scoped};
use crate::stack::Project;

/// The compose extension key on the Alertmanager service.
pub const EXTENSION: &str = "x-mmkt-alertmanager-config";

/// Where a service's rendered config comes from and goes to (its [`EXTENSION`] value).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigTarget {
    /// The template, relative to the compose file (deploy/docker-compose.yml names
    /// monitoring/alertmanager.tmpl.yml).
    pub template: String,
    /// The named volume (its compose name) the service mounts its config directory from.
    pub volume: String,
    /// The file name in that volume (e.g. `alertmanager.yml`).
    pub file: String,
}

/// A service's rendered config, waiting to be written into its volume.
#[derive(Debug, Clone)]
pub struct PendingConfig {
    /// The service.
    pub service: String,
    /// Where the file goes.
    pub target: ConfigTarget,
    /// The rendered file (holds secrets; its `Debug` does not show them).
    pub rendered: Rendered,
}

/// What `up` did with one service's rendered config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigReport {
    /// The service.
    pub service: String,
    /// The integrations it delivers to.
    pub integrations: Vec<Integration>,
    /// Development only: the unset or empty variables whose integrations were left out.
    pub unset: Vec<String>,
    /// Whether the file in the volume was (re)written.
    pub written: bool,
}

impl ConfigReport {
    /// One line for an operator, e.g. `rendered: alerts to email, slack, webhook`, or, with
    /// no integration left (development), that alerts reach no one, naming the unset variables.
    pub fn describe(&self) -> String {
        let state = if self.written {
            "rendered"
        } else {
            "rendered, unchanged"
        };
        let kinds: BTreeSet<&str> = self.integrations.iter().map(|i| i.kind.as_str()).collect();
        let mut line = if kinds.is_empty() {
            format!("{state}: alerts reach no one (null receivers)")
        } else {
            let kinds: Vec<&str> = kinds.into_iter().collect();
            format!("{state}: alerts to {}", kinds.join(", "))
        };
        if !self.unset.is_empty() {
            line.push_str(&format!(
                "; development: {} unset, their integrations left out",
                self.unset.join(", ")
            ));
        }
        line
    }
}

impl Project {
    /// Renders the config of every service in `order` that has [`EXTENSION`], with the
    /// project's variables and `MMKT_ENV`. Touches no engine.
    ///
    /// # Errors
    /// [`StackError::Invalid`] (the service does not mount the named volume, a bad template),
    /// [`StackError::Read`] (the template), [`StackError::SecretsMissing`] and
    /// [`StackError::SecretMalformed`] as [`render`] returns them.
    pub fn render_configs(&self, order: &[String]) -> Result<Vec<PendingConfig>, StackError> {
        let environment = environment_of(&self.compose);
        let mut out = Vec::new();
        for svc in order {
            let service = &self.compose.file.services[svc];
            let Some(target) = service.extension::<ConfigTarget>(EXTENSION)? else {
                continue;
            };
            require_named_mount(svc, service, EXTENSION, &target.volume)?;
            let path = resolve_host_path(&self.compose.dir, &target.template);
            let text = std::fs::read_to_string(&path)
                .map_err(|source| StackError::Read { path, source })?;
            let rendered = render(&text, &self.compose.variables, &environment)?;
            out.push(PendingConfig {
                service: svc.clone(),
                target,
                rendered,
            });
        }
        Ok(out)
    }

    /// Writes each rendered config into its (existing) volume unless the file there already
    /// has that content; returns the services whose file was written.
    ///
    /// Engine API: see [`Engine::read_volume_file`] and [`Engine::write_volume_file`] (the
    /// helper container is created from the service's own image, never started).
    ///
    /// # Errors
    /// [`StackError::Engine`] / [`StackError::Unreachable`].
    pub async fn write_configs(
        &self,
        engine: &Engine,
        pending: &[PendingConfig],
    ) -> Result<BTreeSet<String>, StackError> {
        let helper_labels = HashMap::from([(labels::PROJECT.to_owned(), self.name.clone())]);
        let mut written = BTreeSet::new();
        for config in pending {
            let volume = scoped(&self.name, &config.target.volume);
            let image = self.compose.file.services[&config.service].image_ref();
            let file = &config.target.file;
            let content = config.rendered.yaml().as_bytes();
            let current = engine
                .read_volume_file(&volume, image, &helper_labels, file)
                .await?;
            if current.as_deref() == Some(content) {
                continue;
            }
            engine
                .write_volume_file(&volume, image, &helper_labels, file, content)
                .await?;
            written.insert(config.service.clone());
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_the_integrations_or_says_no_one_is_reached() {
        let integration = |kind: &str| Integration {
            receiver: "ops-critical".into(),
            kind: kind.into(),
        };
        let report = ConfigReport {
            service: "alertmanager".into(),
            integrations: vec![
                integration("webhook"),
                integration("slack"),
                integration("webhook"),
            ],
            unset: vec![],
            written: true,
        };
        assert_eq!(report.describe(), "rendered: alerts to slack, webhook");
        let nobody = ConfigReport {
            integrations: vec![],
            unset: vec!["ALERTMANAGER_WEBHOOK_URL".into()],
            written: false,
            ..report
        };
        assert_eq!(
            nobody.describe(),
            "rendered, unchanged: alerts reach no one (null receivers); development: ALERTMANAGER_WEBHOOK_URL unset, their integrations left out"
        );
    }
}
