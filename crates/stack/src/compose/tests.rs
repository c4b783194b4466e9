//! Unit tests of the compose loader: accepted keys, refusals, interpolation, word splitting.

use super::*;

fn load_str(yaml: &str) -> Result<LoadedCompose, StackError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docker-compose.yml");
    std::fs::write(&path, yaml).unwrap();
    load(&path, None)
}

#[test]
fn order_profiles_cycles_and_merge_keys() {
    let c = load_str(
        "x-base: &base\n  restart: always\nservices:\n  web:\n    <<: *base\n    image: w\n    depends_on: {api: {condition: service_healthy}}\n  api:\n    image: a\n    depends_on: [db]\n  db:\n    image: d\n  tools:\n    image: t\n    profiles: [debug]\n",
    )
    .unwrap();
    assert_eq!(c.file.services["web"].restart.as_deref(), Some("always"));
    assert_eq!(c.file.enabled_services(&[]), vec!["api", "db", "web"]);
    assert_eq!(
        c.file.enabled_services(&["debug".into()]),
        vec!["api", "db", "tools", "web"]
    );
    let all = c.file.enabled_services(&[]);
    assert_eq!(c.file.start_order(&all).unwrap(), vec!["db", "api", "web"]);
    assert_eq!(
        c.file.services["web"].dependencies()["api"],
        "service_healthy"
    );
    assert!(
        c.file.networks.contains_key("default"),
        "implicit default network"
    );
    // A dependency outside the selection is refused, not silently started.
    let err = c.file.start_order(&["web".to_string()]).unwrap_err();
    assert!(err.to_string().contains("not enabled"), "{err}");

    let err = load_str("services:\n  a:\n    image: a\n    depends_on: [b]\n  b:\n    image: b\n    depends_on: [a]\n").unwrap_err();
    assert!(err.to_string().contains("dependency cycle"), "{err}");
    let err = load_str("services:\n  a:\n    build: .\n").unwrap_err();
    assert!(err.to_string().contains("has no `image:`"), "{err}");
    let err =
        load_str("services:\n  a:\n    image: a\n    volumes: [undeclared:/x]\n").unwrap_err();
    assert!(err.to_string().contains("not declared"), "{err}");
    let err = load_str(
        "services:\n  a:\n    image: a\n    healthcheck: {test: [CMD, \"true\"], interval: soon}\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("invalid duration"), "{err}");
    let err = load_str("services:\n  a:\n    image: a\n    restart: sometimes\n").unwrap_err();
    assert!(err.to_string().contains("unknown restart policy"), "{err}");
    let err = load_str("services:\n  a:\n    image: a\n    ports: {http: 80}\n").unwrap_err();
    assert!(
        err.to_string().contains("service a:"),
        "a type error names its service: {err}"
    );
    let err = load_str("- just\n- a list\n").unwrap_err();
    assert!(matches!(err, StackError::ComposeSyntax { .. }), "{err}");
    let ok = load_str("services:\n  a:\n    image: a\n    x-note: free-form\nx-top: 1\n");
    assert!(ok.is_ok(), "x- extensions are allowed");
}

#[test]
fn hardening_keys_load_and_bad_or_unknown_ones_fail_clearly() {
    let ok = load_str(
        "services:\n  a:\n    image: a\n    read_only: true\n    user: \"1000:1000\"\n    pids_limit: 64\n    tmpfs: [\"/run/x:size=1m,mode=0700,uid=1000,gid=1000\", /tmp]\n    networks: [w]\nnetworks:\n  w: {internal: true}\n",
    )
    .unwrap();
    let svc = &ok.file.services["a"];
    assert_eq!(svc.read_only, Some(true));
    assert_eq!(svc.pids_limit, Some(64));
    assert!(ok.file.networks["w"].as_ref().unwrap().internal);
    for (yaml, message) in [
        ("tmpfs: [run]", "the path must be absolute"),
        (
            "tmpfs: [\"/run:size=lots\"]",
            "malformed option \"size=lots\"",
        ),
        (
            "tmpfs: [\"/run:mode=rwx\"]",
            "malformed option \"mode=rwx\"",
        ),
        ("tmpfs: [\"/run:exotic\"]", "unknown or malformed option"),
        ("ulimits: {nproc: 64}", "unsupported compose key `ulimits`"),
        (
            "mem_reservation: 64m",
            "unsupported compose key `mem_reservation`",
        ),
        ("read_only: yes please", "service a:"),
        ("pids_limit: many", "service a:"),
    ] {
        let err = load_str(&format!("services:\n  a:\n    image: a\n    {yaml}\n")).unwrap_err();
        assert!(err.to_string().contains(message), "{yaml}: {err}");
    }
    let err = load_str(
        "services:\n  a:\n    image: a\n    networks: [w]\nnetworks:\n  w: {internal: true, ipam: {config: []}}\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("ipam"), "{err}");
}

#[test]
fn logging_loads_and_bad_drivers_or_sizes_fail_by_service() {
    let ok = load_str(
        "x-log: &log\n  logging: {driver: json-file, options: {max-size: 10m, max-file: 3}}\nservices:\n  a:\n    <<: *log\n    image: a\n",
    )
    .unwrap();
    let logging = ok.file.services["a"].logging.as_ref().unwrap();
    assert_eq!(logging.driver.as_deref(), Some("json-file"));
    for (yaml, message) in [
        (
            "logging: {driver: gelf}",
            "service a: logging driver \"gelf\" is not supported",
        ),
        (
            "logging: {driver: json-file, options: {max-size: huge}}",
            "service a: logging option max-size: \"huge\" is malformed",
        ),
        ("logging: {driver: json-file, level: debug}", "service a:"),
    ] {
        let err = load_str(&format!("services:\n  a:\n    image: a\n    {yaml}\n")).unwrap_err();
        assert!(err.to_string().contains(message), "{yaml}: {err}");
    }
}

#[test]
fn words() {
    assert_eq!(
        split_words(r#"a 'b c' "d \" e" f\ g"#).unwrap(),
        vec!["a", "b c", "d \" e", "f g"]
    );
    assert!(split_words("'open").is_err());
}
