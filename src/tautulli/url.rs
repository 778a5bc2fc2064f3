//! Who and where: the API key ([`ApiKey`], never shown, scrubbed from any text) and the
//! server's base URL ([`TautulliUrl`], its password never shown). Kept apart from the
//! requests so the secrets' handling can be read on one page.

use std::fmt;

use reqwest::Url;

/// The Tautulli API key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wrap a key (surrounding whitespace, as in key files, is dropped).
    pub fn new(key: &str) -> ApiKey {
        ApiKey(key.trim().to_string())
    }

    /// The key itself, for the request and for redaction checks.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced by `<redacted>`, also in the
    /// percent-encoded form it takes in a query string (a proxy's error page may quote
    /// the request URL).
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        let mut out = text.replace(&self.0, "<redacted>");
        let encoded = form_encode(&self.0);
        if encoded != self.0 {
            out = out.replace(&encoded, "<redacted>");
        }
        out
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Tautulli's base URL: host, host:port, or a full URL with an HTTP root path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TautulliUrl {
    url: Url,
    /// The URL as shown in logs and errors: a password in it is replaced.
    shown: String,
}

impl TautulliUrl {
    /// Parse what a user typed: `tautulli`, `tautulli:8181`, `https://x.example/tautulli/`.
    pub fn parse(raw: &str) -> Result<TautulliUrl, UrlError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(UrlError::Empty);
        }
        let with_scheme = if raw.contains("://") {
            raw.to_string()
        } else {
            format!("http://{raw}")
        };
        let mut url = Url::parse(&with_scheme).map_err(|e| UrlError::NotAUrl {
            raw: raw.to_string(),
            cause: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UrlError::Scheme { raw: raw.to_string() });
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(UrlError::NoHost { raw: raw.to_string() });
        }
        url.set_query(None);
        url.set_fragment(None);
        let path = url.path().trim_end_matches('/');
        let path = path.strip_suffix("/api/v2").unwrap_or(path).to_string();
        url.set_path(&path);
        let mut shown = url.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("redacted"));
        }
        let shown = shown.as_str().trim_end_matches('/').to_string();
        Ok(TautulliUrl { url, shown })
    }

    /// The base URL as text, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.shown
    }

    /// The `/api/v2` endpoint below the base URL, password included.
    pub(super) fn endpoint(&self) -> Url {
        let mut url = self.url.clone();
        let path = format!("{}/api/v2", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url
    }
}

impl fmt::Display for TautulliUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a Tautulli URL was refused; the text follows the flag name in a config error.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// Nothing was given.
    #[error("is empty")]
    Empty,
    /// Not a URL even with `http://` in front.
    #[error("{raw:?} is not a URL ({cause})")]
    NotAUrl {
        /// What was given, trimmed.
        raw: String,
        /// What the URL parser said.
        cause: String,
    },
    /// A scheme other than `http` or `https`.
    #[error("{raw:?} must be http:// or https://")]
    Scheme {
        /// What was given, trimmed.
        raw: String,
    },
    /// No host name or address.
    #[error("{raw:?} has no host")]
    NoHost {
        /// What was given, trimmed.
        raw: String,
    },
}

/// `application/x-www-form-urlencoded` form of `s`, as `query_pairs_mut` writes it.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_accept_host_host_port_and_full_urls_with_a_root() {
        let p = |s| TautulliUrl::parse(s).map(|u| u.endpoint().to_string());
        assert_eq!(p("tautulli").unwrap(), "http://tautulli/api/v2");
        assert_eq!(p("tautulli:8181").unwrap(), "http://tautulli:8181/api/v2");
        assert_eq!(
            p("https://x.example/tautulli/").unwrap(),
            "https://x.example/tautulli/api/v2"
        );
        assert_eq!(p("http://x:8181/api/v2").unwrap(), "http://x:8181/api/v2");
        assert_eq!(p("10.0.0.5:8181/").unwrap(), "http://10.0.0.5:8181/api/v2");
        assert!(p("").is_err());
        assert!(p("ftp://x").is_err());
        assert!(p("http://").is_err());
    }

    #[test]
    fn a_password_in_the_url_is_used_but_never_shown() {
        let u = TautulliUrl::parse("https://admin:s3cret@x.example/tautulli").unwrap();
        assert_eq!(u.to_string(), "https://admin:redacted@x.example/tautulli");
        assert!(u.endpoint().as_str().contains("s3cret"), "requests still authenticate");
    }

    #[test]
    fn api_key_never_shows_in_debug_or_display_and_is_redacted_from_text() {
        let k = ApiKey::new(" abc123secret \n");
        assert_eq!(k.expose(), "abc123secret");
        assert!(!format!("{k:?} {k}").contains("abc123"));
        assert_eq!(
            k.redact("GET /api/v2?apikey=abc123secret&cmd=x"),
            "GET /api/v2?apikey=<redacted>&cmd=x"
        );
    }

    #[test]
    fn percent_encoded_keys_are_redacted_too() {
        let k = ApiKey::new("a b/c+d");
        assert_eq!(
            k.redact("GET /api/v2?apikey=a+b%2Fc%2Bd&cmd=x"),
            "GET /api/v2?apikey=<redacted>&cmd=x"
        );
        assert_eq!(k.redact("key a b/c+d"), "key <redacted>");
    }
}
