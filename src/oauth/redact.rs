//! Removing secret values from anything derived from a response, and bounding its size.

pub const REDACTED: &str = "[redacted]";
/// What marks a text that was cut.
pub const TRUNCATED: &str = "…[truncated]";
/// How much of a response body an `ApiException` keeps (bytes, after redaction).
pub const BODY_LIMIT: usize = 2048;
/// How much of `error`, `error_description` (and a network failure's platform message) an
/// `ApiException` keeps (bytes, after redaction).
pub const FIELD_LIMIT: usize = 2048;
/// How long an `ApiException`'s `message` can be (bytes): our words and two bounded fields.
pub const MESSAGE_LIMIT: usize = 4096 + 512;

/// Field names whose string values are secrets wherever they appear in a text.
pub const SECRET_FIELDS: [&str; 5] = [
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "code",
];

/// `text` made safe to show, at most `limit` bytes (plus the `…[truncated]` mark when cut).
/// Replaced by `[redacted]`:
/// - every occurrence of each secret, in every spelling a server may echo it in: raw;
///   percent-encoded (`%XX` with upper- or lowercase hex, `+` for a space, any mix of encoded and
///   literal characters: encoders differ on what they leave alone: ours, `URLSearchParams`,
///   `encodeURIComponent`, PHP, Python); JSON-escaped (`\"`, `\\`, `\/`, `\b` `\f` `\n` `\r`
///   `\t`, `\uXXXX` in either case, surrogate pairs for astral characters, any mix with literal
///   characters);
/// - the value of every [`SECRET_FIELDS`] field, even in text that is not valid JSON (a truncated
///   body, an HTML page echoing a form): `"name" : "value…"` up to the closing quote or the end of
///   the text, and `name=value` up to `&`, whitespace, a quote or `<`.
///
/// Ranges that overlap or touch become one `[redacted]`. One pass from the start: each position is
/// tried once against each secret and field, the ranges found are merged as they come, and the
/// pass stops once `limit` bytes of output are final, so the cut (on a character boundary) is made
/// *after* redaction and no partial secret survives it. Its cost is linear in the part of `text`
/// it reads (times the secrets' lengths), never in the number of matches.
pub fn redact(text: &str, secrets: &[&str], limit: usize) -> String {
    redact_counted(text, secrets, limit, TextEnd::Whole).0
}

/// Where a text ends: with the original, or cut from a longer one before redaction could see it
/// (the head of a body over 1 MiB). At a cut, a spelling that runs into the end counts as an
/// occurrence: the piece of a secret the cut left is redacted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEnd {
    Whole,
    Cut,
}

/// [`redact`] for a text that may end in a cut, with the number of steps it took (bytes compared
/// or scanned), for the property "cost linear in the input" (native tests and the fuzz target
/// check it).
pub fn redact_counted(text: &str, secrets: &[&str], limit: usize, end: TextEnd) -> (String, u64) {
    let hay = text.as_bytes();
    let secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    // The bytes an occurrence or a field value can be found at: a secret's first byte, an
    // escape's, a quote, `=`. Every other position costs one lookup.
    let mut starts = [false; 256];
    for b in secrets.iter().filter_map(|s| s.bytes().next()) {
        starts[usize::from(b)] = true;
    }
    for b in [b'%', b'+', b'\\', b'"', b'='] {
        starts[usize::from(b)] = true;
    }
    let mut steps: u64 = 0;
    let mut out = String::new();
    // `text[..kept]` is written to `out`; `open` is a redacted range not written yet. Every range
    // starts at the position being tried or the next one, so ranges arrive in order.
    let mut kept = 0;
    let mut open: Option<(usize, usize)> = None;
    // The end of the last `name=value` value: a later one starting before it ends there too.
    let mut assign_stop = 0;
    let mut cut = false;
    let mut at = 0;
    while at < hay.len() {
        // A range that ended before `at` is final (one ending at `at` may still be extended by
        // a range starting here: ranges that touch become one).
        if let Some(range) = open.filter(|&(_, end)| end < at) {
            kept = close(&mut out, text, kept, range);
            open = None;
        }
        // Once `limit` bytes of output are final (the text before `at`, or before an open
        // range and its mark), the rest cannot show: stop reading.
        let settled = match open {
            Some((start, _)) => out.len() + start.saturating_sub(kept) + REDACTED.len(),
            None => out.len() + (at - kept),
        };
        if settled >= limit {
            cut = true;
            break;
        }
        let mut found: Option<(usize, usize)> = None;
        let mut add = |range: (usize, usize)| {
            found = Some(found.map_or(range, |(s, e)| (s.min(range.0), e.max(range.1))));
        };
        let byte = hay[at];
        steps += 1;
        if !starts[usize::from(byte)] {
            at += 1;
            continue;
        }
        for secret in &secrets {
            steps += 1;
            let first = secret.as_bytes()[0];
            for spelling in [Spelling::Raw, Spelling::Percent, Spelling::Json] {
                let starts = byte == first
                    || match spelling {
                        Spelling::Raw => false,
                        Spelling::Percent => byte == b'%' || byte == b'+',
                        Spelling::Json => byte == b'\\',
                    };
                if !starts {
                    continue;
                }
                if let Some(stop) = spelled_at(hay, at, secret, spelling, end, &mut steps) {
                    add((floor_boundary(text, at), ceil_boundary(text, stop)));
                    // The other spellings read the secret's literal bytes the same way, so
                    // none of them reaches further than a raw occurrence.
                    if matches!(spelling, Spelling::Raw) {
                        break;
                    }
                }
            }
        }
        match byte {
            b'"' => {
                if let Some(range) = quoted_field_value(hay, at, &mut steps) {
                    add(range);
                }
            }
            b'=' => {
                if let Some(range) = assigned_field_value(hay, at, &mut assign_stop, &mut steps) {
                    add(range);
                }
            }
            _ => {}
        }
        if let Some((start, end)) = found {
            open = match open {
                Some((s, e)) if start <= e => Some((s, e.max(end))),
                Some(range) => {
                    kept = close(&mut out, text, kept, range);
                    Some((start, end))
                }
                None => Some((start, end)),
            };
        }
        at += 1;
    }
    if let Some(range) = open {
        kept = close(&mut out, text, kept, range);
    }
    let rest = if cut {
        floor_boundary(text, at)
    } else {
        text.len()
    };
    push_slice(&mut out, text, kept, rest);
    if out.len() > limit {
        out.truncate(floor_boundary(&out, limit));
        cut = true;
    }
    if cut {
        out.push_str(TRUNCATED);
    }
    (out, steps)
}

/// Writes the text before a redacted range, then `[redacted]`; returns where the text resumes.
fn close(out: &mut String, text: &str, kept: usize, (start, end): (usize, usize)) -> usize {
    push_slice(out, text, kept, start);
    out.push_str(REDACTED);
    end.max(kept)
}

/// Appends `text[from..to]` (nothing when the range is empty or off a boundary).
fn push_slice(out: &mut String, text: &str, from: usize, to: usize) {
    if from < to {
        out.push_str(text.get(from..to).unwrap_or(""));
    }
}

/// The value of a secret field whose value opens with the quote at `quote`: `"name" : "value…"`
/// up to the closing quote or the end of the text (`None` when empty). The key is looked for backwards (whitespace,
/// a colon, whitespace, the quoted name), so the range starts right after `quote`. A value ends
/// at the next quote that is not escaped, and the opening quote of any later value is not
/// escaped, so value scans never overlap: their total is linear.
fn quoted_field_value(hay: &[u8], quote: usize, steps: &mut u64) -> Option<(usize, usize)> {
    let mut i = quote;
    while i > 0 && matches!(hay[i - 1], b' ' | b'\t' | b'\n' | b'\r') {
        i -= 1;
        *steps += 1;
    }
    if i == 0 || hay[i - 1] != b':' {
        return None;
    }
    i -= 1;
    while i > 0 && matches!(hay[i - 1], b' ' | b'\t' | b'\n' | b'\r') {
        i -= 1;
        *steps += 1;
    }
    let named = SECRET_FIELDS.iter().any(|name| {
        *steps += 1;
        let key = name.len() + 2;
        i >= key
            && hay[i - key] == b'"'
            && hay[i - 1] == b'"'
            && &hay[i - key + 1..i - 1] == name.as_bytes()
    });
    if !named {
        return None;
    }
    let start = quote + 1;
    let mut j = start;
    while let Some(&b) = hay.get(j) {
        *steps += 1;
        if b == b'"' {
            break;
        }
        j += if b == b'\\' { 2 } else { 1 };
    }
    let end = j.min(hay.len());
    (end > start).then_some((start, end))
}

/// The value of a secret field assigned at the `=` at `eq`: `name=value` (the name not preceded
/// by a letter, digit or `_`), up to `&`, whitespace, a quote or `<`; `None` when empty.
/// `stop` remembers the last value's end: a value starting before it ends there too (no stop byte
/// lies between), so `code=code=code=…` is scanned once, not once per `=`.
fn assigned_field_value(
    hay: &[u8],
    eq: usize,
    stop: &mut usize,
    steps: &mut u64,
) -> Option<(usize, usize)> {
    let named = SECRET_FIELDS.iter().any(|name| {
        *steps += 1;
        let n = name.len();
        eq >= n
            && &hay[eq - n..eq] == name.as_bytes()
            && (eq == n || !(hay[eq - n - 1].is_ascii_alphanumeric() || hay[eq - n - 1] == b'_'))
    });
    if !named {
        return None;
    }
    let start = eq + 1;
    if start >= *stop {
        let mut j = start;
        while let Some(&b) = hay.get(j) {
            *steps += 1;
            if matches!(b, b'&' | b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'' | b'<') {
                break;
            }
            j += 1;
        }
        *stop = j;
    }
    (*stop > start).then_some((start, *stop))
}

/// How a secret is looked for in [`redact`]. Each way reads the text deterministically (an
/// escape is always taken as an escape), so one attempt per position suffices.
#[derive(Clone, Copy)]
enum Spelling {
    Raw,
    Percent,
    Json,
}

/// Where an occurrence of `secret` starting at `at` ends, if there is one. At a [`TextEnd::Cut`],
/// an occurrence that the end of the text interrupts (mid-character or mid-escape included)
/// ends there.
fn spelled_at(
    hay: &[u8],
    at: usize,
    secret_text: &str,
    spelling: Spelling,
    end: TextEnd,
    steps: &mut u64,
) -> Option<usize> {
    let secret = secret_text.as_bytes();
    let mut j = at;
    *steps += secret.len() as u64;
    // The text ran out in the middle of a spelling: an occurrence only if the text was cut.
    let ran_out = || (end == TextEnd::Cut).then_some(hay.len());
    match spelling {
        Spelling::Raw => {
            let rest = hay.get(at..)?;
            if rest.len() < secret.len() {
                return (secret.starts_with(rest) && !rest.is_empty())
                    .then_some(())
                    .and_then(|()| ran_out());
            }
            return (rest.get(..secret.len()) == Some(secret)).then_some(at + secret.len());
        }
        Spelling::Percent => {
            for &b in secret {
                let Some(&c) = hay.get(j) else {
                    return ran_out();
                };
                // `%XX` is always an escape (a literal `%` is only ever found raw).
                j += match (c, hex_byte(hay, j + 1)) {
                    (b'%', Some(v)) => (v == b).then_some(3)?,
                    (b'%', None) if hay.len() < j + 3 && escape_prefix(hay.get(j + 1..)?) => {
                        return ran_out()
                    }
                    (b'+', _) if b == b' ' || b == b'+' => 1,
                    (c, _) if c == b => 1,
                    _ => return None,
                };
            }
        }
        Spelling::Json => {
            for c in secret_text.chars() {
                if j >= hay.len() {
                    return ran_out();
                }
                if hay.get(j) == Some(&b'\\') {
                    let Some((decoded, len)) = json_escape(hay, j) else {
                        // An escape the end cut short (`\u00`) may be this character's.
                        return (hay.len() < j + 12).then_some(()).and_then(|()| ran_out());
                    };
                    if decoded != c {
                        return None;
                    }
                    j += len;
                } else {
                    let mut buf = [0u8; 4];
                    let raw = c.encode_utf8(&mut buf).as_bytes();
                    match hay.get(j..j + raw.len()) {
                        Some(got) if got == raw => j += raw.len(),
                        None if raw.starts_with(&hay[j..]) => return ran_out(),
                        _ => return None,
                    }
                }
            }
        }
    }
    Some(j)
}

/// Whether `rest` (what follows a `%` at the end of a text) can begin a `%XX` escape.
fn escape_prefix(rest: &[u8]) -> bool {
    rest.iter().all(|&b| hex_digit(b).is_some())
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

/// At most `limit` bytes, cut at a character boundary, marked when cut.
pub fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    super::text::concat_str(&[text.get(..end).unwrap_or(""), TRUNCATED])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unbounded redaction.
    fn redact(text: &str, secrets: &[&str]) -> String {
        super::redact(text, secrets, usize::MAX)
    }

    fn redact_fields(text: &str, _names: &[&str]) -> String {
        redact(text, &[])
    }

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
        assert_eq!(redact("aaa", &["aa"]), "[redacted]");
        assert_eq!(redact("abab", &["ab"]), "[redacted]");
        assert_eq!(redact("ab ab", &["ab"]), "[redacted] [redacted]");
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
    }

    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("ééé", 3), "é…[truncated]");
    }

    #[test]
    fn output_is_bounded_and_cut_after_redaction() {
        let secret = "CnryCdK3p8Zt1Rb6";
        // 1 MiB full of the secret: a few hundred `[redacted]`s, then the mark.
        let text = secret.repeat((1 << 20) / secret.len() + 1) + " tail";
        let sep = format!("{secret} ").repeat((1 << 20) / secret.len());
        // Back to back, the occurrences are one range: one pass over the MiB, a few steps a
        // byte. Apart, the output fills up: the pass stops after a few KiB.
        for (t, most) in [(&text, 16 * text.len() as u64), (&sep, 100_000)] {
            let (out, steps) = redact_counted(t, &[secret], BODY_LIMIT, TextEnd::Whole);
            assert!(out.len() <= BODY_LIMIT + TRUNCATED.len(), "{}", out.len());
            assert!(!out.contains("Cnry"), "{out}");
            assert!(steps < most, "{steps} steps");
        }
        // A secret straddling the limit is redacted before the cut: no prefix survives.
        let pad = "z".repeat(BODY_LIMIT - 3);
        let out = super::redact(&format!("{pad}{secret}"), &[secret], BODY_LIMIT);
        assert!(!out.contains("Cnr"), "{}", &out[BODY_LIMIT - 10..]);
        assert!(out.ends_with(TRUNCATED));
        // The window of the old two-step cut: many short occurrences then a partial one that the
        // shrinking output pulled under the limit.
        let long = "S".repeat(40);
        let text = format!("{long}.").repeat(58) + &long + &"z".repeat(3000);
        let out = super::redact(&text, &[&long], BODY_LIMIT);
        assert!(!out.contains("SSSS"), "{out}");
        // A cut at a character boundary.
        let out = super::redact(&"é".repeat(3000), &[], 3);
        assert_eq!(out, format!("é{TRUNCATED}"));
        assert_eq!(super::redact("short", &["x"], BODY_LIMIT), "short");
    }

    #[test]
    fn cost_is_linear_in_the_input() {
        // Worst shapes for a redactor that rescans or copies per match: repeated field keys whose
        // values run to the end, escapes that almost spell the secret, the secret in every spelling.
        let secret = "p@ss w/\"rd";
        for unit in [
            "code=".to_owned(),
            "\"code\":\"".to_owned(),
            "\"code\" : \"\\".to_owned(),
            "%70%40%73%73+w%2F".to_owned(),
            "p@ss w/\\\"r".to_owned(),
            secret.to_owned(),
        ] {
            for n in [1_000usize, 100_000] {
                let text = unit.repeat(n);
                let (_, steps) = redact_counted(&text, &[secret, "x"], usize::MAX, TextEnd::Cut);
                let per_byte = steps as f64 / text.len() as f64;
                assert!(per_byte < 64.0, "{unit:?} × {n}: {per_byte} steps a byte");
            }
        }
    }

    #[test]
    fn a_secret_cut_by_the_end_of_a_head_is_redacted() {
        let secret = "p@ss w/\"rd";
        let head = |t: &str| redact_counted(t, &[secret], usize::MAX, TextEnd::Cut).0;
        for spelling in [
            "p@ss w",
            "p%40ss%20w%2",
            "p%40ss+w%",
            "p@ss w\\/\\",
            "p@ss w\\u002",
            "p",
        ] {
            assert_eq!(head(&format!("x {spelling}")), "x [redacted]", "{spelling}");
            // A whole text keeps what is not a whole occurrence.
            assert_eq!(
                super::redact(&format!("x {spelling}"), &[secret], usize::MAX),
                format!("x {spelling}")
            );
        }
        assert_eq!(head("x p@ss w/\"rd y"), "x [redacted] y");
        assert_eq!(head("x q"), "x q");
        // The edge cuts heads on character boundaries, so a secret whose last character was cut
        // off ends the text with the characters before it.
        assert_eq!(head_of("xab", "ab€"), "x[redacted]");
    }

    fn head_of(text: &str, secret: &str) -> String {
        redact_counted(text, &[secret], usize::MAX, TextEnd::Cut).0
    }
}
