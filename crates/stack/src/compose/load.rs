//! Loading a compose file: read, refuse YAML merge keys, interpolate `${VAR}` from the
//! environment, the env file and the secrets, then parse and validate the typed model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{ComposeFile, Service};
use crate::error::StackError;
use crate::interpolate::{Variables, interpolate_value};

/// A compose file loaded from disk, with the directory relative paths resolve against.
#[derive(Debug, Clone)]
pub struct LoadedCompose {
    /// Absolute path of the compose file.
    pub path: PathBuf,
    /// Its directory (base of relative build contexts, bind mounts and env files).
    pub dir: PathBuf,
    /// The parsed file.
    pub file: ComposeFile,
    /// The variables used for interpolation (env file + process environment).
    pub variables: Variables,
    /// Variables referenced without a default but unset (compose warns; so do we).
    pub unset_variables: Vec<String>,
}

/// Reads, interpolates and parses a compose file.
///
/// `env_file`: the environment file (`deploy/env/NAME.env`) whose values feed interpolation;
/// the process environment overrides it.
///
/// # Errors
/// [`StackError::Read`] (missing file), [`StackError::ComposeSyntax`] (bad YAML, wrong types),
/// [`StackError::Invalid`] (unsupported keys, missing required variables, inconsistencies;
/// see [`ComposeFile::validate`]).
pub fn load(path: &Path, env_file: Option<&Path>) -> Result<LoadedCompose, StackError> {
    load_with_secrets(path, env_file, BTreeMap::new())
}

/// Like [`load`], with `secrets` (an environment's decrypted secrets file) over the env
/// file's values; the process environment still overrides both.
///
/// # Errors
/// As [`load`].
pub fn load_with_secrets(
    path: &Path,
    env_file: Option<&Path>,
    secrets: BTreeMap<String, String>,
) -> Result<LoadedCompose, StackError> {
    let mut file_vars = match env_file {
        Some(p) => crate::interpolate::parse_env_file(p)?,
        None => BTreeMap::new(),
    };
    file_vars.extend(secrets);
    load_with_variables(path, Variables::from_env_file_and_process(file_vars))
}

/// Like [`load`], interpolating with `variables` as given (e.g. a loaded project's variables
/// with one value changed: the image tag a deploy starts).
///
/// # Errors
/// As [`load`].
pub fn load_with_variables(path: &Path, variables: Variables) -> Result<LoadedCompose, StackError> {
    let abs = std::path::absolute(path).map_err(|source| StackError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = std::fs::read_to_string(&abs).map_err(|source| StackError::Read {
        path: abs.clone(),
        source,
    })?;
    let mut raw: serde_norway::Value =
        serde_norway::from_str(&text).map_err(|e| StackError::ComposeSyntax {
            path: abs.clone(),
            message: e.to_string(),
        })?;
    if !raw.is_mapping() {
        return Err(StackError::ComposeSyntax {
            path: abs,
            message: "the top level must be a mapping with a `services:` key".into(),
        });
    }
    // YAML merge keys (`<<: *anchor`) as compose resolves them.
    // A merged mapping may itself carry `<<` (an anchor built on another anchor): repeat.
    for _ in 0..8 {
        raw.apply_merge().map_err(|e| StackError::ComposeSyntax {
            path: abs.clone(),
            message: e.to_string(),
        })?;
        if !has_merge_key(&raw) {
            break;
        }
    }
    let mut unset = Vec::new();
    interpolate_value(&mut raw, &variables, "", &mut unset)?;
    unset.sort();
    unset.dedup();
    // Deserialize service by service first, so a type error names its service.
    if let Some(services) = raw.get("services").and_then(|v| v.as_mapping()) {
        for (name, body) in services {
            let name = name.as_str().unwrap_or("?");
            serde_norway::from_value::<Service>(body.clone()).map_err(|e| {
                StackError::ComposeSyntax {
                    path: abs.clone(),
                    message: format!("service {name}: {e}"),
                }
            })?;
        }
    }
    let mut file: ComposeFile =
        serde_norway::from_value(raw).map_err(|e| StackError::ComposeSyntax {
            path: abs.clone(),
            message: e.to_string(),
        })?;
    // Compose's implicit `default` network for services that name none.
    if file.services.values().any(|s| s.networks.is_none()) {
        file.networks.entry("default".to_string()).or_insert(None);
    }
    let dir = abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    file.check_keys()?;
    let loaded = LoadedCompose {
        path: abs,
        dir,
        file,
        variables,
        unset_variables: unset,
    };
    loaded.file.validate()?;
    Ok(loaded)
}

fn has_merge_key(v: &serde_norway::Value) -> bool {
    match v {
        serde_norway::Value::Mapping(m) => m
            .iter()
            .any(|(k, v)| k.as_str() == Some("<<") || has_merge_key(v)),
        serde_norway::Value::Sequence(items) => items.iter().any(has_merge_key),
        _ => false,
    }
}
