//! Dev-only harnesses that start REAL services for mmkt's tests (never stand-ins):
//! a regtest Monero network ([`regtest`]), S3 and Docker helpers, and a second Docker Engine
//! with a TLS listener ([`dockerd`]), and a bounded-rate HTTP load that counts every outcome
//! ([`load`]).
//!
//! Tests that need a service call [`require_services`] (through the harnesses) so that a
//! missing service fails the test in CI instead of silently passing.

pub mod age;
pub mod docker;
pub mod dockerd;
pub mod load;
pub mod netns;
pub mod regtest;
pub mod s3;

/// Environment variable that makes missing services a test failure: `MMKT_REQUIRE_SERVICES=1`
/// (set by CI through scripts/test.sh).
pub const REQUIRE_SERVICES_ENV: &str = "MMKT_REQUIRE_SERVICES";

/// `true` when `MMKT_REQUIRE_SERVICES` is `1`, `true` or `yes`: a test whose service
/// (binary, daemon, server) is missing must then fail with a clear message; otherwise it may
/// print a note and skip.
pub fn require_services() -> bool {
    std::env::var(REQUIRE_SERVICES_ENV)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

/// Makes the process `cmd` starts receive SIGKILL when the thread that spawned it exits
/// (PR_SET_PDEATHSIG), so a test killed before its guards run leaves no service behind.
pub(crate) fn die_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
