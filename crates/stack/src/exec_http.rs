//! One HTTP request to the mmkt server from inside its own container (bash `/dev/tcp`, no curl
//! and no published port needed), so the ops tooling reaches a server on an internal network
//! and through a remote engine alike.

use super::engine::Engine;
use super::error::StackError;

/// Seconds one in-container request may take before `timeout` ends it.
pub const REQUEST_TIMEOUT_SECS: u32 = 10;

/// The HTTP methods the ops tooling sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST` with an empty body.
    Post,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// A complete HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// The status code, e.g. 200.
    pub status: u16,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

/// What one in-container request gave: a response, or none (not a failure of the tooling: the
/// server may be starting, or may have exited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpProbe {
    /// The server answered.
    Reply(HttpReply),
    /// No (complete) answer: connection refused, timeout, container not running. The text
    /// says what was seen.
    NoAnswer(String),
}

/// The request script: `$0` = method, `$1` = path; the port is that of the container's
/// `MMKT_BIND`. HTTP/1.0 so the server closes the connection after one plain (not chunked)
/// response.
const SCRIPT: &str = "exec 3<>/dev/tcp/127.0.0.1/${MMKT_BIND##*:} || exit 7; printf '%s %s HTTP/1.0\\r\\nHost: localhost\\r\\nContent-Length: 0\\r\\n\\r\\n' \"$0\" \"$1\" >&3; cat <&3";

impl Engine {
    /// Sends `METHOD path` to the server listening on `MMKT_BIND` inside container `id` and
    /// reads the whole response (at most [`REQUEST_TIMEOUT_SECS`] seconds).
    ///
    /// Engine API: `POST /containers/{id}/exec`, `POST /exec/{id}/start` (see [`Engine::exec`]).
    ///
    /// # Errors
    /// [`StackError::Unreachable`] when the engine does not answer. A refused connection or a
    /// stopped container is [`HttpProbe::NoAnswer`], not an error.
    pub async fn http_in_container(
        &self,
        id: &str,
        method: Method,
        path: &str,
    ) -> Result<HttpProbe, StackError> {
        let timeout = REQUEST_TIMEOUT_SECS.to_string();
        let cmd = [
            "timeout",
            timeout.as_str(),
            "/bin/bash",
            "-c",
            SCRIPT,
            method.as_str(),
            path,
        ];
        let out = match self.exec(id, &cmd, None).await {
            Ok(out) => out,
            Err(e @ StackError::Unreachable { .. }) => return Err(e),
            Err(e) => return Ok(HttpProbe::NoAnswer(e.to_string())),
        };
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        Ok(match parse_response(&text) {
            Some(reply) => HttpProbe::Reply(reply),
            None => HttpProbe::NoAnswer(format!(
                "no HTTP response (exit code {}): {}",
                out.exit_code,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        })
    }
}

/// Splits `HTTP/1.x NNN reason\r\nheaders\r\n\r\nbody` into status and body.
pub fn parse_response(text: &str) -> Option<HttpReply> {
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(HttpReply {
        status,
        body: body.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_split_into_status_and_body() {
        let reply =
            parse_response("HTTP/1.0 503 Service Unavailable\r\ncontent-length: 2\r\n\r\n{}")
                .unwrap();
        assert_eq!(reply.status, 503);
        assert_eq!(reply.body, "{}");
        assert_eq!(parse_response("HTTP/1.0 200 OK\r\n"), None);
        assert_eq!(parse_response(""), None);
        assert_eq!(parse_response("garbage\r\n\r\nbody"), None);
    }
}
