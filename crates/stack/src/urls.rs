//! Which published URLs answer, and with which scheme: `mmctl up` prints only those. Each
//! published port is asked for its service's health path (the first path of an `http`
//! `x-mmkt-probe`, else `/`) over HTTPS (certificate verified against the system's roots)
//! and then over plain HTTP; a port answers when one of them returns 2xx. So a TLS listener
//! without a certificate (development), a plain-HTTP request sent to a TLS port (400) and a
//! listener that only redirects (the ACME one: 301) are left out.

use std::time::Duration;

use super::error::StackError;
use super::health::ProbeSpec;
use super::stack::{Project, PublishedUrl};

/// Seconds one probe request may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The URLs of `urls` that answer, each with the scheme that answered (`https` first). The
/// order is kept.
///
/// # Errors
/// [`StackError::Invalid`] when the HTTP client cannot be built or an `x-mmkt-probe` is
/// malformed.
pub async fn answering(
    project: &Project,
    urls: &[PublishedUrl],
) -> Result<Vec<PublishedUrl>, StackError> {
    let http = reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| StackError::Invalid(format!("cannot build the HTTP client: {e}")))?;
    let mut out = Vec::new();
    for url in urls {
        let Some(service) = project.compose.file.services.get(&url.service) else {
            continue;
        };
        let path = match service.extension::<ProbeSpec>("x-mmkt-probe")? {
            Some(ProbeSpec::Http { paths, .. }) => paths.into_iter().next(),
            _ => None,
        }
        .unwrap_or_else(|| "/".to_string());
        let authority = authority(&url.url);
        for scheme in ["https", "http"] {
            let base = format!("{scheme}://{authority}");
            let answered = http
                .get(format!("{base}{path}"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if answered {
                out.push(PublishedUrl {
                    url: base,
                    ..url.clone()
                });
                break;
            }
        }
    }
    Ok(out)
}

/// `host:port` of `scheme://host:port`.
fn authority(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authority_drops_the_scheme() {
        assert_eq!(authority("https://127.0.0.1:8443"), "127.0.0.1:8443");
        assert_eq!(authority("http://[::1]:80"), "[::1]:80");
        assert_eq!(authority("127.0.0.1:1"), "127.0.0.1:1");
    }
}
