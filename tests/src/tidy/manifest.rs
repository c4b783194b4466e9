//! Rules over `Cargo.toml` text: which crate may depend on which.

use super::{Rule, Violation};

/// Every package of the workspace (they are depended on through `workspace = true` or `path`).
pub const WORKSPACE_PACKAGES: [&str; 11] = [
    "monero-types",
    "monero-rpc",
    "escrow-core",
    "mmkt-sqlcipher",
    "mmkt-stack",
    "mmkt-backup",
    "mmkt-deploy",
    "mmkt-server",
    "mmctl",
    "test-support",
    "mmkt-repo-tests",
];

/// Crates that speak or serve HTTP.
const HTTP_CRATES: [&str; 7] = [
    "reqwest",
    "hyper",
    "hyper-util",
    "axum",
    "axum-core",
    "axum-extra",
    "ureq",
];

/// Which table a dependency is declared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepKind {
    /// `[dependencies]` (also target-specific): linked into the crate.
    Normal,
    /// `[build-dependencies]`: linked into the build script.
    Build,
    /// `[dev-dependencies]`: tests, examples and benches only.
    Dev,
}

/// One declared dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dep {
    /// The package name (the `package = "…"` rename resolved).
    pub name: String,
    /// The table it is declared in.
    pub kind: DepKind,
    /// True when declared with `path = …`.
    pub path: bool,
    /// 1-based line of the declaration.
    pub line: usize,
}

/// The parts of a manifest the rules read.
#[derive(Debug, Default)]
pub struct Manifest {
    /// `[package] name`, `None` for a virtual (workspace-only) manifest.
    pub package: Option<String>,
    /// Every dependency of every table.
    pub deps: Vec<Dep>,
}

fn dep_kind(table: &str) -> Option<DepKind> {
    let last = table.rsplit('.').next().unwrap_or(table);
    match last {
        "dependencies" => Some(DepKind::Normal),
        "build-dependencies" => Some(DepKind::Build),
        "dev-dependencies" => Some(DepKind::Dev),
        _ => None,
    }
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches(|c| c == '"' || c == '\'')
}

/// The string value of `key = "…"` inside an inline table or a table body line.
fn string_field(text: &str, key: &str) -> Option<String> {
    let at = text.find(&format!("{key} ="))?;
    let value = text[at + key.len() + 2..].trim_start();
    let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    value[1..].split(quote).next().map(str::to_owned)
}

/// Reads `[package] name` and the dependency tables of a `Cargo.toml` (inline entries such as
/// `foo.workspace = true` or `foo = { path = "…" }`, and `[dependencies.foo]` tables).
pub fn parse_manifest(text: &str) -> Manifest {
    let mut manifest = Manifest::default();
    let mut table = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or(raw).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = header.trim().to_owned();
            // `[dependencies.foo]`: a dependency declared as its own table.
            if let Some((parent, name)) = table.rsplit_once('.')
                && let Some(kind) = dep_kind(parent)
            {
                let name = unquote(name).to_owned();
                manifest.deps.push(Dep {
                    name,
                    kind,
                    path: false,
                    line: i + 1,
                });
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if table == "package" && key == "name" {
            manifest.package = Some(unquote(value).to_owned());
            continue;
        }
        if let Some((parent, _)) = table.rsplit_once('.')
            && dep_kind(parent).is_some()
        {
            // A field of a `[dependencies.foo]` table.
            let Some(dep) = manifest.deps.last_mut() else {
                continue;
            };
            match key {
                "package" => dep.name = unquote(value).to_owned(),
                "path" => dep.path = true,
                _ => {}
            }
            continue;
        }
        let Some(kind) = dep_kind(&table) else {
            continue;
        };
        let name = unquote(key.split('.').next().unwrap_or(key)).to_owned();
        let name = string_field(value, "package").unwrap_or(name);
        let path = value.contains("path =") || key.ends_with(".path");
        manifest.deps.push(Dep {
            name,
            kind,
            path,
            line: i + 1,
        });
    }
    manifest
}

/// Violations for every dependency of `path`'s manifest that `forbidden` rejects.
fn deps_where(
    path: &str,
    text: &str,
    rule: Rule,
    forbidden: impl Fn(&str, &Dep) -> bool,
) -> Vec<Violation> {
    let manifest = parse_manifest(text);
    let Some(package) = manifest.package else {
        return Vec::new();
    };
    manifest
        .deps
        .iter()
        .filter(|d| forbidden(&package, d))
        .map(|d| rule.at(path, d.line, format!("{package} depends on {}", d.name)))
        .collect()
}

/// Only mmkt-stack depends on bollard (any table).
pub fn only_stack_depends_on_bollard(path: &str, text: &str) -> Vec<Violation> {
    let rule = Rule {
        rule: "only mmkt-stack depends on bollard",
        fix: "remove the dependency and use mmkt-stack's Engine API operations instead",
    };
    deps_where(path, text, rule, |pkg, d| {
        pkg != "mmkt-stack" && d.name == "bollard"
    })
}

/// monero-types is floor 0: no other workspace crate and no HTTP crate among its (build)
/// dependencies.
pub fn monero_types_stands_alone(path: &str, text: &str) -> Vec<Violation> {
    let rule = Rule {
        rule: "monero-types depends on no workspace crate and no HTTP crate",
        fix: "keep monero-types pure vocabulary (amounts, addresses, hashes, secrets); move code that needs \
              another crate or HTTP to monero-rpc or the crate that uses it",
    };
    deps_where(path, text, rule, |pkg, d| {
        let workspace = d.path || WORKSPACE_PACKAGES.contains(&d.name.as_str());
        pkg == "monero-types"
            && d.kind != DepKind::Dev
            && (workspace || HTTP_CRATES.contains(&d.name.as_str()))
    })
}

/// escrow-core does no I/O: its (build) dependencies are only serde, thiserror and
/// monero-types (no HTTP, SQL or async crate).
pub fn escrow_core_stays_pure(path: &str, text: &str) -> Vec<Violation> {
    let rule = Rule {
        rule: "escrow-core depends only on serde, thiserror and monero-types",
        fix: "escrow-core is pure functions over values (no HTTP, SQL, async, clock or randomness): do the I/O \
              in the server and pass the results in",
    };
    let allowed = ["serde", "thiserror", "monero-types"];
    deps_where(path, text, rule, |pkg, d| {
        pkg == "escrow-core" && d.kind != DepKind::Dev && !allowed.contains(&d.name.as_str())
    })
}

/// monero-rpc knows nothing about escrow: no escrow-core dependency (any table).
pub fn monero_rpc_knows_no_escrow(path: &str, text: &str) -> Vec<Violation> {
    let rule = Rule {
        rule: "monero-rpc does not depend on escrow-core",
        fix: "keep monero-rpc a plain wallet-rpc/monerod client; escrow logic uses it, not the other way round",
    };
    deps_where(path, text, rule, |pkg, d| {
        pkg == "monero-rpc" && d.name == "escrow-core"
    })
}

/// monero-rpc, escrow-core and monero-types neither serve HTTP (axum) nor touch SQL (rusqlite).
pub fn domain_crates_know_no_serving_or_sql(path: &str, text: &str) -> Vec<Violation> {
    let rule = Rule {
        rule: "monero-rpc, escrow-core and monero-types do not serve HTTP or use SQL",
        fix: "HTTP serving and SQL belong to the server (and the backup crate's file format); remove the dependency",
    };
    let domain = ["monero-rpc", "escrow-core", "monero-types"];
    deps_where(path, text, rule, |pkg, d| {
        domain.contains(&pkg)
            && d.kind == DepKind::Normal
            && ["axum", "rusqlite"].contains(&d.name.as_str())
    })
}

/// mmctl, mmkt-stack, mmkt-backup and mmkt-deploy never link the server crate (any table).
pub fn ops_crates_never_link_the_server(path: &str, text: &str) -> Vec<Violation> {
    let rule = Rule {
        rule: "mmctl, mmkt-stack, mmkt-backup and mmkt-deploy never depend on mmkt-server",
        fix: "reach the server through its HTTP endpoints (/health, /ready, /metrics), the database file with \
              its key file (mmkt-sqlcipher) and the wallet directories",
    };
    let ops = ["mmctl", "mmkt-stack", "mmkt-backup", "mmkt-deploy"];
    deps_where(path, text, rule, |pkg, d| {
        ops.contains(&pkg) && d.name == "mmkt-server"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tidy::{fired, quiet};

    fn manifest(name: &str, deps: &str) -> String {
        format!("[package]\nname = \"{name}\"\nversion.workspace = true\n\n{deps}")
    }

    #[test]
    fn manifests_are_read() {
        let text = manifest(
            "x",
            "[dependencies]\nserde.workspace = true # serde\nhttp = { package = \"reqwest\", version = \"1\" }\n\
             local = { path = \"../local\" }\n\n[target.'cfg(unix)'.dependencies]\nlibc = \"0.2\"\n\n\
             [dev-dependencies.tempfile]\nworkspace = true\n\n[features]\ndefault = []\n",
        );
        let m = parse_manifest(&text);
        assert_eq!(m.package.as_deref(), Some("x"));
        let deps: Vec<_> = m
            .deps
            .iter()
            .map(|d| (d.name.as_str(), d.kind, d.path, d.line))
            .collect();
        assert_eq!(
            deps,
            [
                ("serde", DepKind::Normal, false, 6),
                ("reqwest", DepKind::Normal, false, 7),
                ("local", DepKind::Normal, true, 8),
                ("libc", DepKind::Normal, false, 11),
                ("tempfile", DepKind::Dev, false, 13),
            ]
        );
        assert!(
            parse_manifest(
                "[workspace]\nmembers = []\n[workspace.dependencies]\nbollard = \"1\"\n"
            )
            .package
            .is_none()
        );
    }

    #[test]
    fn bollard_only_for_stack() {
        let deps = "[dependencies]\nbollard = { workspace = true, features = [\"aws-lc-rs\"] }\n";
        assert_eq!(
            fired(
                only_stack_depends_on_bollard,
                "crates/backup/Cargo.toml",
                &manifest("mmkt-backup", deps)
            ),
            [6]
        );
        let dev = "[dev-dependencies]\nbollard.workspace = true\n";
        assert_eq!(
            fired(
                only_stack_depends_on_bollard,
                "crates/mmctl/Cargo.toml",
                &manifest("mmctl", dev)
            ),
            [6]
        );
        assert!(quiet(
            only_stack_depends_on_bollard,
            "crates/stack/Cargo.toml",
            &manifest("mmkt-stack", deps)
        ));
        let clean = "[dependencies]\nmmkt-stack.workspace = true\n";
        assert!(quiet(
            only_stack_depends_on_bollard,
            "crates/backup/Cargo.toml",
            &manifest("mmkt-backup", clean)
        ));
    }

    #[test]
    fn monero_types_is_floor_zero() {
        let bad = "[dependencies]\nmonero-rpc.workspace = true\nreqwest.workspace = true\nother = { path = \"../other\" }\n";
        let p = "crates/monero-types/Cargo.toml";
        assert_eq!(
            fired(monero_types_stands_alone, p, &manifest("monero-types", bad)),
            [6, 7, 8]
        );
        let clean = "[dependencies]\nserde.workspace = true\nthiserror.workspace = true\n[dev-dependencies]\nproptest.workspace = true\n";
        assert!(monero_types_stands_alone(p, &manifest("monero-types", clean)).is_empty());
        assert!(quiet(
            monero_types_stands_alone,
            "crates/monero-rpc/Cargo.toml",
            &manifest("monero-rpc", bad)
        ));
    }

    #[test]
    fn escrow_core_allows_only_pure_dependencies() {
        let bad = "[dependencies]\nserde.workspace = true\ntokio.workspace = true\nrusqlite.workspace = true\n";
        let p = "crates/escrow-core/Cargo.toml";
        assert_eq!(
            fired(escrow_core_stays_pure, p, &manifest("escrow-core", bad)),
            [7, 8]
        );
        let clean = "[dependencies]\nmonero-types.workspace = true\nserde.workspace = true\nthiserror.workspace = true\n\
                     [dev-dependencies]\nproptest.workspace = true\n";
        assert!(escrow_core_stays_pure(p, &manifest("escrow-core", clean)).is_empty());
    }

    #[test]
    fn monero_rpc_and_domain_crates_keep_their_boundaries() {
        let rpc = "[dependencies]\nescrow-core.workspace = true\naxum.workspace = true\n";
        let p = "crates/monero-rpc/Cargo.toml";
        assert_eq!(
            fired(monero_rpc_knows_no_escrow, p, &manifest("monero-rpc", rpc)),
            [6]
        );
        assert_eq!(
            fired(
                domain_crates_know_no_serving_or_sql,
                p,
                &manifest("monero-rpc", rpc)
            ),
            [7]
        );
        let clean = "[dependencies]\nreqwest.workspace = true\n[dev-dependencies]\ntest-support.workspace = true\n";
        assert!(monero_rpc_knows_no_escrow(p, &manifest("monero-rpc", clean)).is_empty());
        assert!(domain_crates_know_no_serving_or_sql(p, &manifest("monero-rpc", clean)).is_empty());
        assert!(quiet(
            domain_crates_know_no_serving_or_sql,
            "crates/server/Cargo.toml",
            &manifest("mmkt-server", rpc)
        ));
    }

    #[test]
    fn ops_crates_do_not_link_the_server() {
        let bad = "[dependencies]\nmmkt-backup.workspace = true\n[dev-dependencies]\nmmkt-server = { path = \"../server\" }\n";
        for (p, pkg) in [
            ("crates/mmctl/Cargo.toml", "mmctl"),
            ("crates/stack/Cargo.toml", "mmkt-stack"),
            ("crates/backup/Cargo.toml", "mmkt-backup"),
        ] {
            assert_eq!(
                fired(ops_crates_never_link_the_server, p, &manifest(pkg, bad)),
                [8],
                "{pkg}"
            );
        }
        let clean = "[dependencies]\nmmkt-sqlcipher.workspace = true\nreqwest.workspace = true\n";
        assert!(quiet(
            ops_crates_never_link_the_server,
            "crates/mmctl/Cargo.toml",
            &manifest("mmctl", clean)
        ));
        assert!(quiet(
            ops_crates_never_link_the_server,
            "tests/Cargo.toml",
            &manifest("mmkt-repo-tests", bad)
        ));
    }
}
