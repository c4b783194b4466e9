//! The SSH connection of whoever applies the ruleset (`SSH_CONNECTION`), kept reachable.

use std::net::IpAddr;

use crate::error::FirewallError;

/// The variable sshd sets in a session: `CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT`.
pub const SSH_CONNECTION: &str = "SSH_CONNECTION";

/// The client address and the server port of the SSH session applying the ruleset: new
/// connections from that address to that port are accepted without the rate limit, so an
/// operator who reconnects (or whose sshd listens elsewhere than the SSH setting says) is
/// not locked out. The session's own connection survives anyway: established connections are
/// accepted first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SshSession {
    /// The operator's address.
    pub client: IpAddr,
    /// The port sshd accepted the session on.
    pub server_port: u16,
}

impl SshSession {
    /// Parses `SSH_CONNECTION`'s value; `None` (or empty) outside an SSH session.
    ///
    /// # Errors
    /// [`FirewallError::InvalidSetting`] when the value is not four fields with an address
    /// and a port where sshd puts them.
    pub fn parse(value: Option<&str>) -> Result<Option<SshSession>, FirewallError> {
        let Some(text) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let fields: Vec<&str> = text.split_whitespace().collect();
        let bad = || {
            FirewallError::invalid(
                SSH_CONNECTION,
                text,
                "expected CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT (as sshd sets it); unset it outside an SSH session",
            )
        };
        let [client, _, _, port] = fields.as_slice() else {
            return Err(bad());
        };
        let client: IpAddr = client.parse().map_err(|_| bad())?;
        let server_port: u16 = port.parse().map_err(|_| bad())?;
        Ok(Some(SshSession {
            client,
            server_port,
        }))
    }

    /// The session of this process's environment.
    ///
    /// # Errors
    /// As [`SshSession::parse`].
    pub fn from_env() -> Result<Option<SshSession>, FirewallError> {
        SshSession::parse(std::env::var(SSH_CONNECTION).ok().as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sshd_value_and_refuses_garbage() {
        let s = SshSession::parse(Some("203.0.113.7 50022 198.51.100.1 2222"))
            .unwrap()
            .unwrap();
        assert_eq!(s.client.to_string(), "203.0.113.7");
        assert_eq!(s.server_port, 2222);
        assert_eq!(SshSession::parse(None).unwrap(), None);
        assert_eq!(SshSession::parse(Some(" ")).unwrap(), None);
        for bad in [
            "203.0.113.7",
            "x 1 y 22",
            "203.0.113.7 1 198.51.100.1 99999",
        ] {
            assert!(SshSession::parse(Some(bad)).is_err(), "{bad}");
        }
    }
}
