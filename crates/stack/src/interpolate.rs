//! Compose-style variable interpolation (`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?message}`, `${VAR?message}`, `$$` for a literal `$`), as specified by the Compose
//! Specification ("Interpolation"), and env-file parsing (`KEY=VALUE` lines).

use std::collections::BTreeMap;
use std::path::Path;

use super::error::StackError;

/// Variables visible to interpolation: the process environment overrides the env file, as in
/// `docker compose --env-file`.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    values: BTreeMap<String, String>,
}

impl Variables {
    /// Builds the variable set from an env file's entries, then the process environment on top.
    pub fn from_env_file_and_process(file_entries: BTreeMap<String, String>) -> Self {
        let mut values = file_entries;
        for (k, v) in std::env::vars() {
            values.insert(k, v);
        }
        Variables { values }
    }

    /// Builds a variable set from explicit entries only (tests, library callers).
    pub fn from_map(values: BTreeMap<String, String>) -> Self {
        Variables { values }
    }

    /// Builds a variable set from `(name, value)` pairs only (tests, library callers).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self::from_map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The same set with `name` set to `value` (overriding the env file and the process).
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.values.insert(name.to_owned(), value.to_owned());
        self
    }
}

/// Parses an env file: `KEY=VALUE` per line, `#` comments and blank lines ignored, optional
/// `export ` prefix, values optionally wrapped in single or double quotes.
///
/// # Errors
/// [`StackError::Read`] when the file cannot be read, [`StackError::Invalid`] for a line
/// without `=` (the line number is given; the value is never echoed, it may be a secret).
pub fn parse_env_file(path: &Path) -> Result<BTreeMap<String, String>, StackError> {
    let text = std::fs::read_to_string(path).map_err(|source| StackError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = BTreeMap::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(StackError::Invalid(format!(
                "{}:{}: expected KEY=VALUE",
                path.display(),
                idx + 1
            )));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(StackError::Invalid(format!(
                "{}:{}: invalid variable name",
                path.display(),
                idx + 1
            )));
        }
        let value = value.trim();
        let value = strip_quotes(value);
        out.insert(key.to_string(), value.to_string());
    }
    Ok(out)
}

fn strip_quotes(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// Interpolates one string. `location` (e.g. "services.server.environment") is used in errors.
///
/// Unset variables without a default become the empty string, as compose does; they are
/// collected into `unset` so the caller can warn about them.
///
/// # Errors
/// [`StackError::Invalid`] for `${VAR:?msg}` with VAR unset/empty, or a malformed `${`.
pub fn interpolate(
    input: &str,
    vars: &Variables,
    location: &str,
    unset: &mut Vec<String>,
) -> Result<String, StackError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        if let Some(body_start) = after.strip_prefix('{') {
            let Some(end) = find_closing_brace(body_start) else {
                return Err(StackError::Invalid(format!(
                    "{location}: unterminated ${{ in {input:?}"
                )));
            };
            let expr = &body_start[..end];
            out.push_str(&expand(expr, vars, location, unset)?);
            rest = &body_start[end + 1..];
            continue;
        }
        let name_len = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .count();
        if name_len == 0 {
            out.push('$');
            rest = after;
            continue;
        }
        let name = &after[..name_len];
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None => unset.push(name.to_string()),
        }
        rest = &after[name_len..];
    }
    out.push_str(rest);
    Ok(out)
}

fn find_closing_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn expand(
    expr: &str,
    vars: &Variables,
    location: &str,
    unset: &mut Vec<String>,
) -> Result<String, StackError> {
    let name_len = expr
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .count();
    let (name, op) = expr.split_at(name_len);
    if name.is_empty() {
        return Err(StackError::Invalid(format!(
            "{location}: invalid variable expression ${{{expr}}}"
        )));
    }
    let value = vars.get(name);
    let nested = |s: &str, unset: &mut Vec<String>| interpolate(s, vars, location, unset);
    match op {
        "" => Ok(value.map(str::to_string).unwrap_or_else(|| {
            unset.push(name.to_string());
            String::new()
        })),
        _ if op.starts_with(":-") => match value {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            _ => nested(&op[2..], unset),
        },
        _ if op.starts_with('-') => match value {
            Some(v) => Ok(v.to_string()),
            None => nested(&op[1..], unset),
        },
        _ if op.starts_with(":?") => match value {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            _ => Err(StackError::Invalid(format!(
                "{location}: required variable {name} is not set: {}",
                &op[2..]
            ))),
        },
        _ if op.starts_with('?') => match value {
            Some(v) => Ok(v.to_string()),
            None => Err(StackError::Invalid(format!(
                "{location}: required variable {name} is not set: {}",
                &op[1..]
            ))),
        },
        _ => Err(StackError::Invalid(format!(
            "{location}: unsupported variable expression ${{{expr}}}"
        ))),
    }
}

/// Interpolates every string (values, not keys) of a YAML tree in place.
///
/// # Errors
/// As [`interpolate`].
pub fn interpolate_value(
    value: &mut serde_norway::Value,
    vars: &Variables,
    location: &str,
    unset: &mut Vec<String>,
) -> Result<(), StackError> {
    use serde_norway::Value;
    match value {
        Value::String(s) => {
            *s = interpolate(s, vars, location, unset)?;
        }
        Value::Sequence(items) => {
            for item in items {
                interpolate_value(item, vars, location, unset)?;
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = k.as_str().unwrap_or("?");
                let loc = format!("{location}.{key}");
                interpolate_value(v, vars, &loc, unset)?;
            }
        }
        Value::Tagged(tagged) => interpolate_value(&mut tagged.value, vars, location, unset)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        Variables::from_pairs(pairs)
    }

    #[test]
    fn interpolation_forms() {
        let v = vars(&[("A", "1"), ("EMPTY", "")]);
        let mut unset = Vec::new();
        let f = |s: &str, unset: &mut Vec<String>| interpolate(s, &v, "t", unset).unwrap();
        assert_eq!(f("x$A-${A}", &mut unset), "x1-1");
        assert_eq!(f("${EMPTY:-d}|${EMPTY-d}|${NOPE-d}", &mut unset), "d||d");
        assert_eq!(f("$$A and $${A}", &mut unset), "$A and ${A}");
        assert_eq!(f("${NOPE}", &mut unset), "");
        assert_eq!(unset, vec!["NOPE".to_string()]);
        assert_eq!(f("${NOPE:-${A}}", &mut unset), "1");
        let err = interpolate("${NOPE:?set it}", &v, "svc", &mut unset).unwrap_err();
        assert!(err.to_string().contains("required variable NOPE"), "{err}");
        assert!(interpolate("${A", &v, "svc", &mut unset).is_err());
    }
}
