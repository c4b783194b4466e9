//! Services bound to environments: a service whose `x-mmkt-environments` lists environment
//! names runs only when the project's `MMKT_ENV` is one of them (e.g. the development stack's
//! regtest faucet and miner, `[development]`). Enabling such a service elsewhere is refused
//! when the project is loaded, before anything reaches the engine.

use super::compose::LoadedCompose;
use super::error::StackError;

/// The compose extension key: a list of `MMKT_ENV` values the service may run in.
pub const EXTENSION: &str = "x-mmkt-environments";

/// The environment a service runs in when `MMKT_ENV` is unset (the compose file's default).
pub const DEFAULT_ENVIRONMENT: &str = "development";

/// The project's environment name: `MMKT_ENV` from the env file and the process environment,
/// [`DEFAULT_ENVIRONMENT`] when unset or empty.
pub fn environment_of(compose: &LoadedCompose) -> String {
    compose
        .variables
        .get("MMKT_ENV")
        .filter(|v| !v.is_empty())
        .unwrap_or(DEFAULT_ENVIRONMENT)
        .to_string()
}

/// Checks that every service `profiles` enables may run in the project's environment.
///
/// # Errors
/// [`StackError::Invalid`] naming the service, its environments and the profile to drop;
/// [`StackError::ComposeSyntax`] when an `x-mmkt-environments` value is not a list of names.
pub fn check_enabled(compose: &LoadedCompose, profiles: &[String]) -> Result<(), StackError> {
    let env = environment_of(compose);
    for name in compose.file.enabled_services(profiles) {
        let service = &compose.file.services[&name];
        let Some(allowed) = service.extension::<Vec<String>>(EXTENSION)? else {
            continue;
        };
        if allowed.iter().any(|a| a == &env) {
            continue;
        }
        return Err(StackError::Invalid(format!(
            "service {name} runs only in {} (its {EXTENSION}), and this project's MMKT_ENV is {env}; \
             drop --profile {} (or COMPOSE_PROFILES) for this environment",
            allowed.join(", "),
            service.profiles.join(",")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "services:\n  app:\n    image: a\n  faucet:\n    image: f\n    profiles: [dev]\n    x-mmkt-environments: [development]\n";

    fn load(env: &str) -> LoadedCompose {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docker-compose.yml");
        std::fs::write(&file, FILE).unwrap();
        let env_file = dir.path().join("e.env");
        std::fs::write(&env_file, format!("MMKT_ENV={env}\n")).unwrap();
        let mut compose = crate::compose::load(&file, Some(&env_file)).unwrap();
        // The process environment of the test runner must not decide the outcome.
        let mut values = std::collections::BTreeMap::new();
        values.insert("MMKT_ENV".to_string(), env.to_string());
        compose.variables = crate::interpolate::Variables::from_map(values);
        compose
    }

    #[test]
    fn development_only_services_are_refused_elsewhere() {
        let dev = ["dev".to_string()];
        assert!(check_enabled(&load("development"), &dev).is_ok());
        assert!(
            check_enabled(&load("production"), &[]).is_ok(),
            "not enabled"
        );
        let err = check_enabled(&load("production"), &dev).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, StackError::Invalid(_)), "{text}");
        assert!(
            text.contains("faucet")
                && text.contains("production")
                && text.contains("--profile dev"),
            "{text}"
        );
        assert_eq!(environment_of(&load("")), DEFAULT_ENVIRONMENT);
    }
}
