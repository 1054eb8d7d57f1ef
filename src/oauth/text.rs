//! Building strings without the `format!` machinery: it costs kilobytes of wasm, and the edge
//! builds messages on hot paths (README "Performance").

/// The parts, joined.
pub fn concat_str(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// The parts with `separator` between them (std's `join` is a kilobyte of generic wasm).
pub fn join_str<S: AsRef<str>>(parts: &[S], separator: &str) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        out.push_str(part.as_ref());
    }
    out
}

/// `n` in decimal, appended to `out`.
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.push_str(
        buf.get(i..)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("0"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print() {
        for (n, s) in [
            (0u64, "0"),
            (7, "7"),
            (30_000, "30000"),
            (u64::MAX, "18446744073709551615"),
        ] {
            let mut out = String::new();
            push_u64(&mut out, n);
            assert_eq!(out, s);
        }
    }

    #[test]
    fn parts_join() {
        assert_eq!(concat_str(&["a", "", "bc"]), "abc");
        let parts = ["", "b", "c"].map(String::from);
        assert_eq!(join_str(&parts, ": "), ": b: c");
        assert_eq!(join_str::<String>(&[], ","), "");
    }
}
