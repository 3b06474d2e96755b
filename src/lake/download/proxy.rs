//! The proxies of `hermes lake download`, from the conventional environment variables:
//! `HTTPS_PROXY` for `https://` URLs, `HTTP_PROXY` for `http://` URLs, `ALL_PROXY` for both when
//! the specific one is unset, and `NO_PROXY` (comma-separated hosts, domains with their
//! subdomains, IP addresses or CIDR ranges, `*` for all) for hosts reached directly. Each name is
//! read upper-case first, then lower-case (`https_proxy` …), as curl and reqwest do; an empty
//! value counts as unset.
//!
//! reqwest would read the same variables by itself but silently ignore a value it cannot parse
//! and connect directly; here the client is built with exactly these proxies and a bad value is
//! a configuration error (exit 78) naming the variable. A value without a scheme
//! (`proxy.lan:3128`) means `http://`. Only `http://` and `https://` proxies are supported
//! (reqwest is built without SOCKS). Credentials in a proxy URL are never echoed.
//!
//! Owns reading and checking the variables; the client that uses them is [`super::fetch`].

/// The proxy settings read from the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    /// The proxy for `http://` URLs and the variable it came from.
    pub http: Option<(&'static str, String)>,
    /// The proxy for `https://` URLs and the variable it came from.
    pub https: Option<(&'static str, String)>,
    /// The `NO_PROXY` list.
    pub no_proxy: Option<String>,
}

impl ProxyEnv {
    /// Reads the variables through `get` (the process environment in [`ProxyEnv::from_env`]).
    #[must_use]
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Self {
        let first = |names: &[&'static str]| {
            names.iter().find_map(|&n| {
                get(n)
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .map(|v| (n, v))
            })
        };
        let all = first(&["ALL_PROXY", "all_proxy"]);
        Self {
            http: first(&["HTTP_PROXY", "http_proxy"]).or_else(|| all.clone()),
            https: first(&["HTTPS_PROXY", "https_proxy"]).or(all),
            no_proxy: first(&["NO_PROXY", "no_proxy"]).map(|(_, v)| v),
        }
    }

    /// Reads the process environment.
    #[must_use]
    pub fn from_env() -> Self {
        Self::from_vars(|n| std::env::var(n).ok())
    }

    /// The reqwest proxies, each with the `NO_PROXY` exclusions.
    ///
    /// # Errors
    /// A message naming the variable when its value is not an `http(s)://host[:port]` URL.
    pub fn proxies(&self) -> Result<Vec<reqwest::Proxy>, String> {
        let no_proxy = self
            .no_proxy
            .as_deref()
            .and_then(reqwest::NoProxy::from_string);
        let mut out = Vec::new();
        for (entry, for_https) in [(&self.http, false), (&self.https, true)] {
            let Some((var, value)) = entry else { continue };
            let bad = |e: String| format!("{var}={}: {e}", redact(value));
            let url = checked_url(value).map_err(bad)?;
            let proxy = if for_https {
                reqwest::Proxy::https(url.as_str())
            } else {
                reqwest::Proxy::http(url.as_str())
            };
            out.push(
                proxy
                    .map_err(|e| bad(e.to_string()))?
                    .no_proxy(no_proxy.clone()),
            );
        }
        Ok(out)
    }
}

/// `value` as an `http(s)://host[:port]` URL (`http://` when it has no scheme).
fn checked_url(value: &str) -> Result<reqwest::Url, String> {
    let text = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    let url = reqwest::Url::parse(&text).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{}:// proxies are not supported (only http:// and https://)",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the proxy URL has no host".into());
    }
    Ok(url)
}

/// `value` with everything before its last `@` (after any scheme) replaced by `***@`, for
/// messages. The whole value is searched, not just up to the first `/`: a password with an
/// unescaped `/`, `?` or `#` (`http://u:pa/ss@host`) does not parse as a URL, and its error
/// must not echo it. A proxy URL has no path, so nothing useful is hidden.
fn redact(value: &str) -> String {
    let (scheme, rest) = value.split_once("://").unwrap_or(("", value));
    match rest.rfind('@') {
        Some(at) => {
            let sep = if scheme.is_empty() { "" } else { "://" };
            format!("{scheme}{sep}***@{}", &rest[at + 1..])
        }
        None => format!("{value:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> ProxyEnv {
        ProxyEnv::from_vars(|n| {
            pairs
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_string())
        })
    }

    #[test]
    fn variables_by_precedence() {
        assert_eq!(env(&[]), ProxyEnv::default());
        let e = env(&[
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:1"),
            ("http_proxy", "http://plain:2"),
            ("ALL_PROXY", "http://all:3"),
            ("no_proxy", "127.0.0.1,.lan"),
        ]);
        assert_eq!(e.https, Some(("HTTPS_PROXY", "http://upper:1".into())));
        assert_eq!(e.http, Some(("http_proxy", "http://plain:2".into())));
        assert_eq!(e.no_proxy.as_deref(), Some("127.0.0.1,.lan"));
        // ALL_PROXY fills in; an empty value is unset.
        let e = env(&[("HTTP_PROXY", " "), ("all_proxy", "http://all:3")]);
        assert_eq!(e.http, Some(("all_proxy", "http://all:3".into())));
        assert_eq!(e.https, Some(("all_proxy", "http://all:3".into())));
        assert_eq!(e.proxies().map(|p| p.len()), Ok(2));
    }

    #[test]
    fn bad_values_name_the_variable_and_hide_credentials() {
        assert!(env(&[("HTTP_PROXY", "proxy.lan:3128")]).proxies().is_ok());
        for (value, needle) in [
            (
                "socks5://127.0.0.1:1080",
                "socks5:// proxies are not supported",
            ),
            ("http://", "not a URL"),
            ("http://user:secret@[::1", "not a URL"),
            (
                "ftp://user:secret@host:21",
                "ftp:// proxies are not supported",
            ),
        ] {
            let e = env(&[("HTTPS_PROXY", value)]).proxies().unwrap_err();
            assert!(e.starts_with("HTTPS_PROXY="), "{value}: {e}");
            assert!(e.contains(needle), "{value}: {e}");
            assert!(!e.contains("secret"), "{value}: {e}");
        }
        assert_eq!(
            redact("http://u:p@host:1/x"),
            "http://***@host:1/x",
            "userinfo only"
        );
        assert_eq!(redact("u:p@host:1"), "***@host:1");
        // An unescaped `/` or `?` in the password: not a URL, and still not echoed.
        for value in ["http://user:se/cret@host:1", "user:se?cret@host:1"] {
            let e = env(&[("HTTPS_PROXY", value)]).proxies().unwrap_err();
            assert!(e.contains("not a URL"), "{value}: {e}");
            assert!(!e.contains("cret"), "{value}: {e}");
        }
        assert_eq!(redact("http://host:1"), "\"http://host:1\"");
    }
}
