//! Web-facing settings: the browser origins allowed to send state-changing requests and open the
//! WebSocket (`MMKT_WEB_ORIGINS`), checked by [`crate::web::guard`].

use super::{ConfigError, Environment};

/// The origins the stack serves on in development: nginx's plain-HTTP listener on loopback.
pub const DEVELOPMENT_ORIGINS: [&str; 2] = ["http://127.0.0.1:8080", "http://localhost:8080"];

/// The web settings (`MMKT_WEB_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSettings {
    /// Origins whose pages may change state here, besides the origin of the `Host` the request
    /// was sent to (which is always allowed).
    pub allowed_origins: AllowedOrigins,
}

impl WebSettings {
    /// The defaults of `env`, overridden by `MMKT_WEB_ORIGINS` (`get` reads a variable, `None`
    /// when unset): a comma-separated list of origins (`scheme://host[:port]`, e.g.
    /// `https://market.example`). Default in development: [`DEVELOPMENT_ORIGINS`]; in staging and
    /// production: none (only same-origin pages, by the `Host` header).
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] for an entry that is not an `http://` or `https://` origin
    /// (a path, query, fragment or user name is refused).
    pub fn parse(
        env: Environment,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let allowed_origins = match get("MMKT_WEB_ORIGINS") {
            Some(list) => AllowedOrigins::parse(&list)?,
            None if env == Environment::Development => AllowedOrigins(
                DEVELOPMENT_ORIGINS
                    .iter()
                    .map(|o| (*o).to_owned())
                    .collect(),
            ),
            None => AllowedOrigins(Vec::new()),
        };
        Ok(WebSettings { allowed_origins })
    }
}

/// A list of origins in the form browsers send in `Origin` (ASCII serialization: lowercase
/// scheme and host, the port only when it is not the scheme's default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    /// Parses a comma-separated list (blank entries are skipped).
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] naming `MMKT_WEB_ORIGINS` and the refused entry.
    pub fn parse(list: &str) -> Result<Self, ConfigError> {
        let mut origins = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let origin = serialize_origin(entry).ok_or_else(|| ConfigError::InvalidValue {
                name: "MMKT_WEB_ORIGINS",
                message: format!(
                    "`{entry}` is not an origin; use scheme://host[:port] with http or https and nothing after it, e.g. https://market.example"
                ),
            })?;
            origins.push(origin);
        }
        Ok(AllowedOrigins(origins))
    }

    /// Whether the `Origin` header value `origin` is one of these (compared in serialized form).
    pub fn contains(&self, origin: &str) -> bool {
        serialize_origin(origin).is_some_and(|o| self.0.contains(&o))
    }

    /// The origins, serialized.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// `text` as a browser serializes an origin, if it is exactly an http(s) origin (a trailing `/`
/// is tolerated).
pub fn serialize_origin(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    let bare = matches!(url.path(), "" | "/")
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !bare || !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(env: Environment, value: Option<&str>) -> Result<WebSettings, ConfigError> {
        WebSettings::parse(env, &|name| {
            (name == "MMKT_WEB_ORIGINS")
                .then(|| value.map(str::to_owned))
                .flatten()
        })
    }

    #[test]
    fn defaults_per_environment() {
        let dev = parse(Environment::Development, None).unwrap();
        assert_eq!(dev.allowed_origins.as_slice(), DEVELOPMENT_ORIGINS);
        assert!(dev.allowed_origins.contains("http://LOCALHOST:8080"));
        assert!(!dev.allowed_origins.contains("http://localhost:8081"));
        let prod = parse(Environment::Production, None).unwrap();
        assert!(prod.allowed_origins.as_slice().is_empty());
    }

    #[test]
    fn origins_are_compared_serialized() {
        let s = parse(
            Environment::Production,
            Some(" https://Market.Example:443/ , http://10.0.0.5:8080"),
        )
        .unwrap();
        assert_eq!(
            s.allowed_origins.as_slice(),
            ["https://market.example", "http://10.0.0.5:8080"]
        );
        assert!(s.allowed_origins.contains("https://market.example"));
        assert!(!s.allowed_origins.contains("https://market.example.evil"));
        assert!(!s.allowed_origins.contains("null"));
    }

    #[test]
    fn entries_that_are_not_origins_are_refused() {
        for bad in [
            "market.example",
            "https://market.example/app",
            "ftp://market.example",
            "https://user@market.example",
            "https://market.example?x=1",
        ] {
            let err = parse(Environment::Staging, Some(bad)).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("MMKT_WEB_ORIGINS") && text.contains(bad),
                "{bad}: {text}"
            );
        }
    }
}
