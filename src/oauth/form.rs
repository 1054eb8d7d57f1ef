//! Percent-encoding for `application/x-www-form-urlencoded` bodies and URL query strings.
//!
//! Everything except the RFC 3986 unreserved set (`A-Z a-z 0-9 - . _ ~`) is percent-encoded
//! from its UTF-8 bytes, so any Unicode, `&`, `=`, `+` and spaces survive a round trip through
//! any conforming decoder. The query encoder also keeps `,` and `:` literal (both are legal in a
//! query), because Avito documents scopes as `scope=messenger:read,items:info`.

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn push_encoded(out: &mut String, value: &str, query: bool) {
    for &b in value.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (query && (b == b',' || b == b':'));
        if keep {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

fn encode_pairs(pairs: &[(&str, &str)], query: bool) -> String {
    let mut out = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() * 3 + 2).sum());
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        push_encoded(&mut out, k, query);
        out.push('=');
        push_encoded(&mut out, v, query);
    }
    out
}

/// `k1=v1&k2=v2` for a request body.
pub fn encode_form(pairs: &[(&str, &str)]) -> String {
    encode_pairs(pairs, false)
}

/// `k1=v1&k2=v2` for a URL query; `,` and `:` stay literal.
pub fn encode_query(pairs: &[(&str, &str)]) -> String {
    encode_pairs(pairs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'%' => {
                    let h = u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap();
                    out.push(h);
                    i += 3;
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn encodes_grant_fields_in_order() {
        assert_eq!(
            encode_form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "id"),
                ("client_secret", "s")
            ]),
            "grant_type=client_credentials&client_id=id&client_secret=s"
        );
    }

    #[test]
    fn reserved_characters_are_escaped() {
        assert_eq!(encode_form(&[("a", "x&y=z+w v")]), "a=x%26y%3Dz%2Bw%20v");
        assert_eq!(encode_form(&[("a", "%")]), "a=%25");
        assert_eq!(encode_form(&[("a", "a,b")]), "a=a%2Cb");
        assert_eq!(encode_query(&[("scope", "a,b")]), "scope=a,b");
        assert_eq!(
            encode_query(&[("scope", "messenger:read,items:info")]),
            "scope=messenger:read,items:info"
        );
        assert_eq!(encode_form(&[("a", "x:y")]), "a=x%3Ay");
    }

    #[test]
    fn unicode_round_trips() {
        for v in [
            "Привет мир",
            "😀🎉",
            "tab\tnl\nnul\0",
            "~-._",
            "",
            "日本語&=+",
        ] {
            let enc = encode_form(&[("v", v)]);
            assert!(enc.is_ascii());
            assert_eq!(decode(&enc[2..]), v);
        }
    }
}
