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
        for form in [s.to_string(), encoded_forms(s), json_escaped(s), json_escaped(s).replace('/', "\\/")] {
            if !form.is_empty() && out.contains(form.as_str()) {
                out = out.replace(form.as_str(), REDACTED);
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
    let mut out = text[..end].to_owned();
    out.push_str("…[truncated]");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_all_spellings() {
        let s = "p@ss w/\"rd";
        let text = "raw p@ss w/\"rd enc p%40ss%20w%2F%22rd json p@ss w/\\\"rd esc p@ss w\\/\\\"rd";
        let out = redact(text, &[s, ""]);
        assert_eq!(out, "raw [redacted] enc [redacted] json [redacted] esc [redacted]");
    }

    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("ééé", 3), "é…[truncated]");
    }
}
