//! The server containers of a switch: blue (the running one, found by its compose labels)
//! and green (a second container of the `server` service, planned from the compose file with
//! the new image tag, under its own name and runner id), green's `/ready` wait and its smoke
//! checks, all through the Engine API.

use std::time::{Duration, Instant};

use mmkt_stack::Project;
use mmkt_stack::compose::load_with_variables;
use mmkt_stack::container::Inspect;
use mmkt_stack::engine::{ContainerStatus, Engine};
use mmkt_stack::exec_http::{HttpProbe, Method};
use mmkt_stack::image::image_id;
use mmkt_stack::readiness::PROBE_INTERVAL;
use mmkt_stack::spec::{ContainerPlan, plan_service};

use crate::error::DeployError;
use crate::report::Release;

/// The compose service that runs the marketplace server.
pub const SERVER: &str = "server";

/// The variable that holds the image tag in the compose file.
pub const VERSION_VARIABLE: &str = "MMKT_VERSION";

/// Label on a deployed container: the version (image tag) it runs.
pub const VERSION_LABEL: &str = "org.mmkt.version";

/// Label on a deployed container: the deploy or rollback that created it.
pub const DEPLOY_ID_LABEL: &str = "org.mmkt.deploy.id";

/// A running server container.
#[derive(Debug, Clone)]
pub struct Running {
    /// Container ID.
    pub id: String,
    /// What it runs.
    pub release: Release,
}

/// The version (tag) a container runs: its version label, else its image reference's tag.
fn version_of(info: &Inspect) -> String {
    let config = info.config.as_ref();
    if let Some(v) = config
        .and_then(|c| c.labels.as_ref())
        .and_then(|l| l.get(VERSION_LABEL))
    {
        return v.clone();
    }
    let image = config.and_then(|c| c.image.clone()).unwrap_or_default();
    match image.rsplit_once(':') {
        Some((_, tag)) if !tag.contains('/') => tag.to_string(),
        _ => "latest".to_string(),
    }
}

/// The running server containers of `project`, oldest first, with what they run.
///
/// # Errors
/// [`DeployError::Engine`].
pub async fn running_servers(engine: &Engine, project: &str) -> Result<Vec<Running>, DeployError> {
    let mut out = Vec::new();
    for info in engine.service_containers(project, SERVER).await? {
        let status = ContainerStatus::from_inspect(&info);
        if status.state != "running" {
            continue;
        }
        out.push(Running {
            release: Release {
                version: version_of(&info),
                image_id: info.image.clone().unwrap_or_default(),
                container: status.name.clone(),
            },
            id: status.id,
        });
    }
    Ok(out)
}

/// The one running server (blue).
///
/// # Errors
/// [`DeployError::Stack`] when none runs (run `mmctl up`) or several do (an interrupted
/// deploy: see `mmctl deploy status`).
pub async fn blue(engine: &Engine, project: &str) -> Result<Running, DeployError> {
    let mut running = running_servers(engine, project).await?;
    match running.len() {
        1 => Ok(running.remove(0)),
        0 => Err(DeployError::Stack(format!(
            "project {project} has no running server container; start the stack with `mmctl up` first"
        ))),
        _ => Err(DeployError::Stack(format!(
            "project {project} runs {} server containers ({}): an earlier deploy was interrupted; remove the one nginx does not use (`mmctl deploy status`), then retry",
            running.len(),
            running
                .iter()
                .map(|r| r.release.container.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The server's image reference with the version tag `version` (the compose file's
/// `image:` with `MMKT_VERSION` set to it), and the project re-read with that value.
///
/// # Errors
/// [`DeployError::Engine`] for a compose file that no longer loads.
pub fn with_version(project: &Project, version: &str) -> Result<Project, DeployError> {
    let variables = project
        .compose
        .variables
        .clone()
        .with(VERSION_VARIABLE, version);
    let compose = load_with_variables(&project.compose.path, variables)?;
    Ok(Project {
        compose,
        name: project.name.clone(),
        profiles: project.profiles.clone(),
    })
}

/// The local image ID of the server image in `project`; nothing is ever pulled.
///
/// # Errors
/// [`DeployError::Invalid`] when the image is not present locally.
pub async fn server_image(
    engine: &Engine,
    project: &Project,
) -> Result<(String, String), DeployError> {
    let reference = project
        .compose
        .file
        .service(SERVER)?
        .image_ref()
        .to_string();
    match image_id(engine, &reference).await? {
        Some(id) => Ok((reference, id)),
        None => Err(DeployError::Invalid(format!(
            "image {reference} is not present on the target engine and is never pulled: build it (`mmctl image build`), or pass --image-file FILE (an archive from `mmctl image save`)"
        ))),
    }
}

/// Green's plan: the compose plan of `server` for the image `image_id`, named `name`, with
/// `MMKT_RUNNER_ID=name` and the version and deploy labels. Its config hash is the one `up`
/// computes for that image, so a later `up` with the same `MMKT_VERSION` leaves it alone.
///
/// # Errors
/// [`DeployError::Engine`] for a service that does not plan (bad value, missing bind source).
pub fn plan_green(
    project: &Project,
    image_id: &str,
    name: &str,
    version: &str,
    run_id: &str,
) -> Result<ContainerPlan, DeployError> {
    let mut plan = plan_service(&project.compose, &project.name, SERVER, image_id)?;
    plan.name = name.to_string();
    let env = plan.body.env.get_or_insert_with(Vec::new);
    env.retain(|e| !e.starts_with("MMKT_RUNNER_ID="));
    env.push(format!("MMKT_RUNNER_ID={name}"));
    let labels = plan.body.labels.get_or_insert_with(Default::default);
    labels.insert(VERSION_LABEL.to_string(), version.to_string());
    labels.insert(DEPLOY_ID_LABEL.to_string(), run_id.to_string());
    Ok(plan)
}

/// Polls green's `/ready` (from inside it, every `PROBE_INTERVAL`) until it answers 200; fails at
/// once when green exits or restarts.
///
/// # Errors
/// [`DeployError::GreenNotReady`] with the state and last output, or the last answer after
/// `timeout`; [`DeployError::Engine`].
pub async fn wait_ready(
    engine: &Engine,
    id: &str,
    name: &str,
    timeout: Duration,
) -> Result<(), DeployError> {
    let deadline = Instant::now() + timeout;
    let not_ready = |detail: String| DeployError::GreenNotReady {
        container: name.to_string(),
        detail,
    };
    loop {
        let info = engine.inspect(id).await?;
        let status = ContainerStatus::from_inspect(&info);
        if status.state != "running" || info.restart_count.unwrap_or(0) > 0 {
            return Err(not_ready(format!(
                "it is {} after {} restart(s); last output: {}",
                status.describe(),
                info.restart_count.unwrap_or(0),
                engine.tail_logs(id, 5).await
            )));
        }
        let last = match engine.http_in_container(id, Method::Get, "/ready").await? {
            HttpProbe::Reply(r) if r.status == 200 => return Ok(()),
            HttpProbe::Reply(r) => format!(
                "HTTP {}: {}",
                r.status,
                r.body.chars().take(300).collect::<String>()
            ),
            HttpProbe::NoAnswer(why) => why,
        };
        if Instant::now() >= deadline {
            return Err(not_ready(format!(
                "/ready did not answer 200 within {} s (last: {last})",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// The smoke checks: each path, and what its body must contain.
pub const SMOKE_CHECKS: [(&str, &str); 4] = [
    ("/health", "\"ok\""),
    ("/ready", "\"ready\""),
    ("/api/listings", ""),
    ("/api/openapi.json", "\"openapi\""),
];

/// Runs [`SMOKE_CHECKS`] against green directly (200 and the expected text); returns what
/// passed, for the report.
///
/// # Errors
/// [`DeployError::SmokeFailed`] naming the first failing check; [`DeployError::Engine`].
pub async fn smoke(engine: &Engine, id: &str, name: &str) -> Result<String, DeployError> {
    let mut passed = Vec::new();
    for (path, needle) in SMOKE_CHECKS {
        let failed = |detail: String| DeployError::SmokeFailed {
            container: name.to_string(),
            check: format!("GET {path}"),
            detail,
        };
        match engine.http_in_container(id, Method::Get, path).await? {
            HttpProbe::Reply(r) if r.status == 200 && r.body.contains(needle) => {
                passed.push(format!("GET {path} 200"));
            }
            HttpProbe::Reply(r) => {
                return Err(failed(format!(
                    "HTTP {}: {}",
                    r.status,
                    r.body.chars().take(300).collect::<String>()
                )));
            }
            HttpProbe::NoAnswer(why) => return Err(failed(why)),
        }
    }
    Ok(passed.join(", "))
}
