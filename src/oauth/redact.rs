//! Removing secret values from anything derived from a response, and bounding its size.

use super::form::encoded_forms;

pub const REDACTED: &str = "[redacted]";
/// How much of a response body an `ApiException` keeps.
pub const BODY_LIMIT: usize = 2048;

/// Replaces every occurrence of each secret — raw, percent-encoded and JSON-escaped — with
/// `[redacted]`.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        let escaped = json_escaped(s);
        let slash_escaped = replace_all(&escaped, "/", "\\/");
        for form in [
            *s,
            encoded_forms(s).as_str(),
            escaped.as_str(),
            slash_escaped.as_str(),
        ] {
            if find(&out, form, 0).is_some() {
                out = replace_all(&out, form, REDACTED);
            }
        }
    }
    out
}

/// The first index of `needle` in `hay` at or after `from` (a plain byte search: small code).
/// For valid UTF-8 on both sides a match always starts and ends on character boundaries.
pub fn find(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (from..=h.len() - n.len()).find(|&i| h.get(i..i + n.len()) == Some(n))
}

/// `hay` with every `needle` replaced by `with`.
pub fn replace_all(hay: &str, needle: &str, with: &str) -> String {
    let mut out = String::with_capacity(hay.len());
    let mut at = 0;
    while let Some(i) = find(hay, needle, at) {
        out.push_str(hay.get(at..i).unwrap_or(""));
        out.push_str(with);
        at = i + needle.len();
    }
    out.push_str(hay.get(at..).unwrap_or(""));
    out
}

/// `text` with `start..end` replaced by `with` (unchanged if the range is not on boundaries).
fn splice(text: &str, start: usize, end: usize, with: &str) -> String {
    match (text.get(..start), text.get(end..)) {
        (Some(a), Some(b)) => super::concat_str(&[a, with, b]),
        _ => text.to_owned(),
    }
}

/// Replaces the value of every secret-named field, even in text that is not valid JSON
/// (a truncated body, an HTML page echoing a form): `"name" : "value…"` up to the closing quote
/// or the end of the text, and `name=value` up to `&`, whitespace, a quote or `<`.
pub fn redact_fields(text: &str, names: &[&str]) -> String {
    let mut out = text.to_owned();
    for name in names {
        let quoted = super::concat_str(&["\"", name, "\""]);
        let mut from = 0;
        while let Some(at) = find(&out, &quoted, from) {
            let key_end = at + quoted.len();
            let bytes = out.as_bytes();
            let mut i = key_end;
            while matches!(bytes.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                i += 1;
            }
            if bytes.get(i) != Some(&b':') {
                from = key_end;
                continue;
            }
            i += 1;
            while matches!(bytes.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                i += 1;
            }
            if bytes.get(i) != Some(&b'"') {
                from = key_end;
                continue;
            }
            let start = i + 1;
            let mut j = start;
            while let Some(&b) = bytes.get(j) {
                if b == b'"' {
                    break;
                }
                j += if b == b'\\' { 2 } else { 1 };
            }
            let end = j.min(out.len());
            out = splice(&out, start, end, REDACTED);
            from = start + REDACTED.len();
        }
        let assign = super::concat_str(&[name, "="]);
        let mut from = 0;
        while let Some(at) = find(&out, &assign, from) {
            let start = at + assign.len();
            let bytes = out.as_bytes();
            let before = if at == 0 {
                None
            } else {
                bytes.get(at - 1).copied()
            };
            let boundary_ok = before.map_or(true, |b| !b.is_ascii_alphanumeric() && b != b'_');
            let mut j = start;
            while let Some(&b) = bytes.get(j) {
                if matches!(b, b'&' | b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'' | b'<') {
                    break;
                }
                j += 1;
            }
            if boundary_ok && j > start {
                out = splice(&out, start, j, REDACTED);
                from = start + REDACTED.len();
            } else {
                from = start;
            }
        }
    }
    out
}

fn json_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

/// At most `limit` bytes, cut at a character boundary, marked when cut.
pub fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    super::concat_str(&[text.get(..end).unwrap_or(""), "…[truncated]"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_all_spellings() {
        let s = "p@ss w/\"rd";
        let text = "raw p@ss w/\"rd enc p%40ss%20w%2F%22rd json p@ss w/\\\"rd esc p@ss w\\/\\\"rd";
        let out = redact(text, &[s, ""]);
        assert_eq!(
            out,
            "raw [redacted] enc [redacted] json [redacted] esc [redacted]"
        );
    }

    #[test]
    fn redacts_secret_fields_in_broken_text() {
        let names = ["access_token", "code"];
        assert_eq!(
            redact_fields(r#"{"access_token":"abc"#, &names),
            r#"{"access_token":"[redacted]"#
        );
        assert_eq!(
            redact_fields(r#"{"access_token" : "a\"b", "x":1}"#, &names),
            r#"{"access_token" : "[redacted]", "x":1}"#
        );
        assert_eq!(
            redact_fields("<p>code=XYZ&state=1 barcode=no</p>", &names),
            "<p>code=[redacted]&state=1 barcode=no</p>"
        );
        assert_eq!(
            redact_fields(r#""code": 5, "access_token":"é€""#, &names),
            r#""code": 5, "access_token":"[redacted]""#
        );
        assert_eq!(redact_fields("access_token=", &names), "access_token=");
    }

    #[test]
    fn byte_search() {
        assert_eq!(find("abcabc", "bc", 0), Some(1));
        assert_eq!(find("abcabc", "bc", 2), Some(4));
        assert_eq!(find("abc", "abcd", 0), None);
        assert_eq!(find("abc", "", 0), None);
        assert_eq!(replace_all("a-b-c", "-", "+="), "a+=b+=c");
        assert_eq!(replace_all("ééé", "é", "e"), "eee");
    }

    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("ééé", 3), "é…[truncated]");
    }
}
