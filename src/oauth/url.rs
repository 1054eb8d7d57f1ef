//! Validation of the configured `host` (and the authorization page URL).
//!
//! Accepted: an absolute `https://` URL, or `http://` for a loopback host only (`localhost`,
//! `127.0.0.0/8`, `[::1]`). No user-info, query or fragment; an optional port and base path.
//! Trailing slashes are dropped, so `{host}/token` never has a double slash.

/// Why a base URL was refused. The text names the rule, never the value (it might hold
/// credentials such as `https://user:pass@…`).
pub const BAD_URL: &str = "must be an absolute https:// URL (http:// only for localhost, 127.0.0.0/8 or [::1]) without credentials, query or fragment";

/// Avito's consent page, unless `authorizeUrl` names another.
pub const DEFAULT_AUTHORIZE_URL: &str = "https://avito.ru/oauth";

/// The consent URL in the form Avito documents, byte for byte:
/// `{authorize_url}?response_type=code&pro_users_flow=true&client_id=…&scope=a,b&state=…`
/// (`pro_users_flow=true` lets Avito Pro sellers sign in), then `redirect_uri` when one is given.
pub fn consent_url(
    authorize_url: &str,
    client_id: &str,
    scope: &str,
    state: &str,
    redirect_uri: Option<&str>,
) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("pro_users_flow", "true"),
        ("client_id", client_id),
        ("scope", scope),
        ("state", state),
    ];
    if let Some(uri) = redirect_uri {
        pairs.push(("redirect_uri", uri));
    }
    let query = crate::oauth::form::encode_query(&pairs);
    let mut url = String::with_capacity(authorize_url.len() + 1 + query.len());
    url.push_str(authorize_url);
    url.push('?');
    url.push_str(&query);
    url
}

pub fn normalize_base(input: &str) -> Result<String, &'static str> {
    let lower_prefix = |p: &str| {
        input.len() >= p.len()
            && input
                .get(..p.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(p))
    };
    let (https, rest) = if lower_prefix("https://") {
        (true, input.get(8..).unwrap_or(""))
    } else if lower_prefix("http://") {
        (false, input.get(7..).unwrap_or(""))
    } else {
        return Err(BAD_URL);
    };
    if input
        .bytes()
        .any(|b| b <= b' ' || b == 0x7f || b == b'\\' || b == b'?' || b == b'#' || b >= 0x80)
    {
        return Err(BAD_URL);
    }
    let slash = rest.bytes().position(|b| b == b'/').unwrap_or(rest.len());
    let (authority, path) = (
        rest.get(..slash).unwrap_or(""),
        rest.get(slash..).unwrap_or(""),
    );
    // A byte scan: `str::contains` of a char brings a 2 KB memchr (src/edge/js.rs says the same).
    if authority.is_empty() || authority.bytes().any(|b| b == b'@') {
        return Err(BAD_URL);
    }
    let host = host_of(authority).ok_or(BAD_URL)?;
    if !https && !is_loopback(host) {
        return Err(BAD_URL);
    }
    let scheme = if https { "https://" } else { "http://" };
    let path = path.trim_end_matches('/');
    let mut out = String::with_capacity(scheme.len() + authority.len() + path.len());
    out.push_str(scheme);
    out.push_str(&authority.to_ascii_lowercase());
    out.push_str(path);
    Ok(out)
}

/// The host part of `host[:port]` / `[v6][:port]`, with a syntactically valid port.
fn host_of(authority: &str) -> Option<&str> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.bytes().position(|b| b == b']')?;
        let after = authority.get(end + 1..)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return None,
        };
        (authority.get(..end + 1)?, port)
    } else {
        match authority.bytes().rposition(|b| b == b':') {
            Some(i) => (authority.get(..i)?, Some(authority.get(i + 1..)?)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host == "[]" {
        return None;
    }
    if let Some(p) = port {
        if p.is_empty()
            || p.len() > 5
            || !p.bytes().all(|b| b.is_ascii_digit())
            || p.parse::<u32>().ok()? > 65535
        {
            return None;
        }
    }
    if !host.starts_with('[')
        && !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        return None;
    }
    Some(host)
}

pub fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost")
        || host.eq_ignore_ascii_case("localhost.")
        || host == "[::1]"
    {
        return true;
    }
    let mut parts = host.split('.');
    let first_is_127 = parts.next() == Some("127");
    let rest: Vec<&str> = parts.collect();
    first_is_127
        && rest.len() == 3
        && rest.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_and_loopback_http() {
        assert_eq!(
            normalize_base("https://api.avito.ru").unwrap(),
            "https://api.avito.ru"
        );
        assert_eq!(
            normalize_base("https://api.avito.ru/").unwrap(),
            "https://api.avito.ru"
        );
        assert_eq!(
            normalize_base("HTTPS://API.Avito.ru//").unwrap(),
            "https://api.avito.ru"
        );
        assert_eq!(
            normalize_base("https://proxy.example:8443/avito/").unwrap(),
            "https://proxy.example:8443/avito"
        );
        assert_eq!(
            normalize_base("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalize_base("http://127.1.2.3").unwrap(),
            "http://127.1.2.3"
        );
        assert_eq!(
            normalize_base("http://localhost:3000/").unwrap(),
            "http://localhost:3000"
        );
        assert_eq!(
            normalize_base("http://[::1]:9000").unwrap(),
            "http://[::1]:9000"
        );
    }

    #[test]
    fn consent_url_is_avitos_documented_form() {
        // Avito's documentation (the authorization OpenAPI description, "state" section):
        // https://avito.ru/oauth?response_type=code&pro_users_flow=true&client_id=<CLIENT_ID>&scope=messenger:read,messenger:write&state=<STATE>
        assert_eq!(
            consent_url(
                DEFAULT_AUTHORIZE_URL,
                "CLIENT_ID",
                "messenger:read,messenger:write",
                "STATE",
                None
            ),
            "https://avito.ru/oauth?response_type=code&pro_users_flow=true&client_id=CLIENT_ID&scope=messenger:read,messenger:write&state=STATE"
        );
        assert_eq!(
            consent_url(
                "http://127.0.0.1:9/oauth",
                "id&x",
                "a b",
                "s",
                Some("http://localhost:8765/cb?x=1")
            ),
            "http://127.0.0.1:9/oauth?response_type=code&pro_users_flow=true&client_id=id%26x&scope=a%20b&state=s&redirect_uri=http:%2F%2Flocalhost:8765%2Fcb%3Fx%3D1"
        );
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "api.avito.ru",
            "ftp://api.avito.ru",
            "http://api.avito.ru",
            "http://10.0.0.1",
            "http://127.0.0.1.evil.com",
            "http://localhost.evil.com",
            "https://",
            "https://user:pw@api.avito.ru",
            "https://api.avito.ru?x=1",
            "https://api.avito.ru#f",
            "https://api avito.ru",
            "https://api.avito.ru:99999",
            "https://api.avito.ru:",
            "https://api.avito.ru:8a",
            "//api.avito.ru",
            "https://[::1",
            "http://[::2]",
            "https://апи.рф",
            "http://128.0.0.1",
            "http://127.0.0.256",
            "https:\\\\api.avito.ru",
            "http://127.0.0.1\n",
        ] {
            assert!(normalize_base(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
