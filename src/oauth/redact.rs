//! Removing secret values from anything derived from a response, and bounding its size.

pub const REDACTED: &str = "[redacted]";
/// How much of a response body an `ApiException` keeps.
pub const BODY_LIMIT: usize = 2048;

/// Replaces every occurrence of each secret with `[redacted]`, in every spelling a server may
/// echo it in:
/// - raw;
/// - percent-encoded: `%XX` with upper- or lowercase hex, `+` for a space, any mix of encoded and
///   literal characters (encoders differ on what they leave alone: ours, `URLSearchParams`,
///   `encodeURIComponent`, PHP, Python);
/// - JSON-escaped: `\"`, `\\`, `\/`, `\b` `\f` `\n` `\r` `\t`, `\uXXXX` in either case (surrogate
///   pairs for astral characters), any mix with literal characters.
///
/// Occurrences that overlap become one `[redacted]`.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let hay = text.as_bytes();
    // Without a `%` or `+` (a `\`) in the text, the percent (JSON) spelling is the raw one.
    let percent = hay.iter().any(|&b| b == b'%' || b == b'+');
    let json = hay.contains(&b'\\');
    let mut hits: Vec<(usize, usize)> = Vec::new();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        for spelling in [Spelling::Raw, Spelling::Percent, Spelling::Json] {
            if matches!(spelling, Spelling::Percent) && !percent
                || matches!(spelling, Spelling::Json) && !json
            {
                continue;
            }
            // The bytes an occurrence can start with: the secret's first, or an escape's.
            let first = secret.as_bytes().first().copied().unwrap_or(0);
            let starts = |b: u8| {
                b == first
                    || match spelling {
                        Spelling::Raw => false,
                        Spelling::Percent => b == b'%' || b == b'+',
                        Spelling::Json => b == b'\\',
                    }
            };
            let mut at = 0;
            while at < hay.len() {
                if !hay.get(at).is_some_and(|&b| starts(b)) {
                    at += 1;
                    continue;
                }
                match spelled_at(hay, at, secret, spelling) {
                    Some(end) => {
                        hits.push((floor_boundary(text, at), ceil_boundary(text, end)));
                        at = end;
                    }
                    None => at += 1,
                }
            }
        }
    }
    if hits.is_empty() {
        return text.to_owned();
    }
    hits.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut kept = 0; // text[..kept] is written or redacted
    let mut open: Option<(usize, usize)> = None;
    for (start, end) in hits {
        match open {
            Some((s, e)) if start < e => open = Some((s, e.max(end))),
            _ => {
                if let Some((s, e)) = open {
                    out.push_str(text.get(kept..s).unwrap_or(""));
                    out.push_str(REDACTED);
                    kept = e;
                }
                open = Some((start, end));
            }
        }
    }
    if let Some((s, e)) = open {
        out.push_str(text.get(kept..s).unwrap_or(""));
        out.push_str(REDACTED);
        kept = e;
    }
    out.push_str(text.get(kept..).unwrap_or(""));
    out
}

/// How a secret is looked for in [`redact`]. Each way reads the text deterministically (an
/// escape is always taken as an escape), so one attempt per position suffices.
#[derive(Clone, Copy)]
enum Spelling {
    Raw,
    Percent,
    Json,
}

/// Where an occurrence of `secret` starting at `at` ends, if there is one.
fn spelled_at(hay: &[u8], at: usize, secret: &str, spelling: Spelling) -> Option<usize> {
    let mut j = at;
    match spelling {
        Spelling::Raw => {
            let end = at.checked_add(secret.len())?;
            return (hay.get(at..end) == Some(secret.as_bytes())).then_some(end);
        }
        Spelling::Percent => {
            for &b in secret.as_bytes() {
                // `%XX` is always an escape (a literal `%` is only ever found raw).
                j += match (*hay.get(j)?, hex_byte(hay, j + 1)) {
                    (b'%', Some(v)) => (v == b).then_some(3)?,
                    (b'+', _) if b == b' ' || b == b'+' => 1,
                    (c, _) if c == b => 1,
                    _ => return None,
                };
            }
        }
        Spelling::Json => {
            for c in secret.chars() {
                if hay.get(j) == Some(&b'\\') {
                    let (decoded, len) = json_escape(hay, j)?;
                    if decoded != c {
                        return None;
                    }
                    j += len;
                } else {
                    let mut buf = [0u8; 4];
                    let raw = c.encode_utf8(&mut buf).as_bytes();
                    if hay.get(j..j + raw.len()) != Some(raw) {
                        return None;
                    }
                    j += raw.len();
                }
            }
        }
    }
    Some(j)
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte written as two hex digits at `i`.
fn hex_byte(hay: &[u8], i: usize) -> Option<u8> {
    Some(hex_digit(*hay.get(i)?)? << 4 | hex_digit(*hay.get(i + 1)?)?)
}

/// The UTF-16 code unit written as four hex digits at `i`.
fn hex_unit(hay: &[u8], i: usize) -> Option<u32> {
    Some(u32::from(hex_byte(hay, i)?) << 8 | u32::from(hex_byte(hay, i + 2)?))
}

/// The character a JSON escape at `at` (a backslash) stands for, and the escape's length.
fn json_escape(hay: &[u8], at: usize) -> Option<(char, usize)> {
    let c = match *hay.get(at + 1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let unit = hex_unit(hay, at + 2)?;
            if (0xd800..0xdc00).contains(&unit) {
                if hay.get(at + 6..at + 8) != Some(b"\\u") {
                    return None;
                }
                let low = hex_unit(hay, at + 8)?;
                if !(0xdc00..0xe000).contains(&low) {
                    return None;
                }
                return Some((
                    char::from_u32(0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00))?,
                    12,
                ));
            }
            return Some((char::from_u32(unit)?, 6));
        }
        _ => return None,
    };
    Some((c, 2))
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i.min(text.len())
}

/// The first index of `needle` in `hay` at or after `from` (a plain byte search: small code).
/// For valid UTF-8 on both sides a match always starts and ends on character boundaries.
pub fn find(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let first = n.first()?;
    if h.len() < n.len() {
        return None;
    }
    (from..=h.len() - n.len())
        .find(|&i| h.get(i) == Some(first) && h.get(i..i + n.len()) == Some(n))
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
    fn redacts_lowercase_percent_encoding() {
        assert_eq!(
            redact("x p%40ss%2fw%c3%a9 y", &["p@ss/wé"]),
            "x [redacted] y"
        );
        // Mixed case, and a character left literal by another encoder (`*`, `~`, `'`).
        assert_eq!(redact("a%2A%7e'b", &["a*~'b"]), "[redacted]");
        assert_eq!(redact("s*~'t", &["s*~'t"]), "[redacted]");
        assert_eq!(redact("%41%42%43", &["ABC"]), "[redacted]");
    }

    #[test]
    fn redacts_form_style_plus_for_space() {
        assert_eq!(
            redact("secret=p%40ss+w%2Frd&x=1", &["p@ss w/rd"]),
            "secret=[redacted]&x=1"
        );
        assert_eq!(redact("a+b%2Bc", &["a b+c"]), "[redacted]");
        // A literal `+` in the secret still matches a literal `+`.
        assert_eq!(redact("k=a+b", &["a+b"]), "k=[redacted]");
    }

    #[test]
    fn redacts_json_unicode_escapes() {
        let s = "ключ\u{1}é😀\"/\\";
        for text in [
            r#"{"d":"\u043a\u043b\u044e\u0447\u0001\u00e9\ud83d\ude00\"\/\\"}"#,
            r#"{"d":"\u043A\u043B\u044E\u0447\u0001\u00E9\uD83D\uDE00\u0022\u002f\u005C"}"#,
            "{\"d\":\"ключ\\u0001é😀\\\"/\\\\\"}",
        ] {
            assert_eq!(redact(text, &[s]), r#"{"d":"[redacted]"}"#, "{text}");
        }
        assert_eq!(redact(r#"\b\f\n\r\t"#, &["\u{8}\u{c}\n\r\t"]), "[redacted]");
        // A lone surrogate or a broken escape is not a character: nothing to match.
        assert_eq!(
            redact(r#"\ud83dx \u12"#, &["x"]),
            r#"\ud83d[redacted] \u12"#
        );
    }

    #[test]
    fn an_escape_before_the_spelling_does_not_hide_it() {
        // `%41` reads as `A`, yet `41%20b` (the secret `41 b` encoded) is still there.
        assert_eq!(redact("%41%20b", &["41 b"]), "%[redacted]");
        assert_eq!(redact("\\nope\\\"", &["nope\""]), "\\[redacted]");
        // A raw secret that looks like an escape.
        assert_eq!(redact("x%41+%2By", &["%41+%2B"]), "x[redacted]y");
        assert_eq!(redact("x%2541%2B%252By", &["%41+%2B"]), "x[redacted]y");
    }

    #[test]
    fn overlapping_and_adjacent_matches() {
        assert_eq!(redact("aaa", &["aa"]), "[redacted]a");
        assert_eq!(redact("abab", &["ab"]), "[redacted][redacted]");
        assert_eq!(redact("xabcdy", &["abc", "bcd"]), "x[redacted]y");
        assert_eq!(redact("é€😀 é", &["é"]), "[redacted]€😀 [redacted]");
        assert_eq!(redact("nothing here", &["", "zz"]), "nothing here");
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
