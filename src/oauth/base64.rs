//! Base64 for the bytes this crate writes as text (random ids, sealed records, fingerprints)
//! and reads back (sealed records, the keys a caller gives): RFC 4648, strict.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding (RFC 4648 §5).
pub fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Base64 in either alphabet (`+/` or `-_`, not mixed), padded or not; `None` for anything else,
/// including bits left over in the last character (each byte string has one spelling).
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let body = text.trim_end_matches('=');
    let padding = text.len() - body.len();
    if padding > 2 || (padding > 0 && text.len() % 4 != 0) || body.len() % 4 == 1 {
        return None;
    }
    let (standard, url) = (body.contains(['+', '/']), body.contains(['-', '_']));
    if standard && url {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        let bytes = chunk.len() - 1;
        // The bits past the last whole byte must be zero.
        if n & ((1u32 << (24 - 8 * bytes)) - 1) != 0 {
            return None;
        }
        out.extend_from_slice(&n.to_be_bytes()[1..=bytes]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_refuses_what_is_not_base64() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let url = base64url(&bytes);
            assert_eq!(base64_decode(&url).as_deref(), Some(&bytes[..]));
            let mut padded = url.replace('-', "+").replace('_', "/");
            while padded.len() % 4 != 0 {
                padded.push('=');
            }
            assert_eq!(
                base64_decode(&padded).as_deref(),
                Some(&bytes[..]),
                "{padded}"
            );
        }
        for bad in [
            "a", "ab=c", "ab===", "a+b-", "ab c", "abc=d", "AB==", "ABC=",
        ] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
        // `AB==`: 'B' leaves bits past the byte; `AA==` is the one spelling of [0].
        assert_eq!(base64_decode("AA=="), Some(vec![0]));
    }
}
