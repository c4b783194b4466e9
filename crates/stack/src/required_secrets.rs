//! Variables a service needs set outside development, listed in its `x-mmkt-secrets` (e.g.
//! Grafana's `GRAFANA_ADMIN_PASSWORD`): `up` refuses to start such a service in staging or
//! production while one of them is empty or unset, before anything is created.

use super::compose::LoadedCompose;
use super::environments::{DEFAULT_ENVIRONMENT, environment_of};
use super::error::StackError;

/// The compose extension key: a list of variable names.
pub const EXTENSION: &str = "x-mmkt-secrets";

/// Checks the services in `services` (e.g. an `up`'s selection) against their
/// `x-mmkt-secrets`, unless the project's `MMKT_ENV` is development.
///
/// # Errors
/// [`StackError::SecretsMissing`] naming the first such service's empty or unset variables
/// (never a value); [`StackError::Invalid`] when an `x-mmkt-secrets` is not a list of names.
pub fn check(compose: &LoadedCompose, services: &[String]) -> Result<(), StackError> {
    let environment = environment_of(compose);
    if environment == DEFAULT_ENVIRONMENT {
        return Ok(());
    }
    for name in services {
        let service = compose.file.service(name)?;
        let Some(needed) = service.extension::<Vec<String>>(EXTENSION)? else {
            continue;
        };
        let mut missing: Vec<String> = needed
            .into_iter()
            .filter(|v| compose.variables.get(v).is_none_or(str::is_empty))
            .collect();
        if missing.is_empty() {
            continue;
        }
        missing.sort();
        return Err(StackError::SecretsMissing {
            environment,
            variables: missing,
            needed_by: format!("service {name}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &str, password: &str) -> LoadedCompose {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docker-compose.yml");
        std::fs::write(
            &file,
            "services:\n  app:\n    image: a\n  grafana:\n    image: g\n    x-mmkt-secrets: [GRAFANA_ADMIN_PASSWORD]\n",
        )
        .unwrap();
        let mut compose = crate::compose::load(&file, None).unwrap();
        let mut values = std::collections::BTreeMap::new();
        values.insert("MMKT_ENV".to_string(), env.to_string());
        values.insert("GRAFANA_ADMIN_PASSWORD".to_string(), password.to_string());
        compose.variables = crate::interpolate::Variables::from_map(values);
        compose
    }

    #[test]
    fn an_empty_secret_is_refused_outside_development_only() {
        let both = ["app".to_string(), "grafana".to_string()];
        for env in ["staging", "production"] {
            let err = check(&load(env, ""), &both).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, StackError::SecretsMissing { .. }), "{text}");
            assert!(
                text.starts_with(&format!(
                    "{env}: GRAFANA_ADMIN_PASSWORD empty or unset, needed by service grafana"
                )),
                "{text}"
            );
            assert!(check(&load(env, "s3cret"), &both).is_ok());
            assert!(
                check(&load(env, ""), &both[..1]).is_ok(),
                "grafana not selected"
            );
        }
        assert!(check(&load("development", ""), &both).is_ok());
    }
}
