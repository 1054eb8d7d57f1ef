//! Avito's scopes: the one list (every scope Avito's specs declare), the TypeScript union built
//! from it, and the reading of a token response's `scope` into a list.

/// Defines the list and its TypeScript declaration from the same literals, so they cannot drift.
macro_rules! avito_scopes {
    ($($scope:literal),+ $(,)?) => {
        /// Every scope that Avito's API specifications declare.
        pub const AVITO_SCOPES: &[&str] = &[$($scope),+];
        /// `export type AvitoScope = "…" | …;` for the package's `.d.ts` (src/edge/types.rs).
        pub const AVITO_SCOPE_TYPESCRIPT: &str = concat!(
            "\n/** Every scope Avito's API specifications declare (editors complete these). */\n",
            "export type AvitoScope =",
            $("\n  | \"", $scope, "\""),+,
            ";\n"
        );
    };
}

avito_scopes!(
    "autoload:reports",
    "items:apply_vas",
    "items:info",
    "job:applications",
    "job:cv",
    "job:vacancy",
    "job:write",
    "messenger:read",
    "messenger:write",
    "short_term_rent:read",
    "short_term_rent:write",
    "stats:read",
    "user:read",
    "user_balance:read",
    "user_operations:read",
    "ah:access",
    "cpa-auction:bids",
    "cpxpromo:read",
    "cpxpromo:edit",
    "items:apply_bbip",
    "ratings:read",
    "ratings:write",
    "special_offers:sending",
    "trx:apply",
    "trx:cancel",
    "trx:commission",
);

/// A response's `scope` as a list: Avito joins scopes with commas (RFC 6749 uses spaces; both
/// are read), empty entries are dropped, order is kept.
pub fn parse_scopes(scope: &str) -> Vec<&str> {
    scope
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_unique_and_wellformed() {
        let mut seen = std::collections::BTreeSet::new();
        for s in AVITO_SCOPES {
            assert!(seen.insert(*s), "{s} twice");
            assert!(
                s.contains(':')
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'-' || b == b':'),
                "{s}"
            );
            assert!(AVITO_SCOPE_TYPESCRIPT.contains(&format!("| \"{s}\"")));
        }
        assert_eq!(AVITO_SCOPES.len(), 26);
        assert_eq!(AVITO_SCOPE_TYPESCRIPT.matches(" | \"").count(), 26);
    }

    #[test]
    fn parses_commas_and_spaces() {
        assert_eq!(
            parse_scopes("messenger:read,items:info"),
            ["messenger:read", "items:info"]
        );
        assert_eq!(parse_scopes(" a b,,c ,"), ["a", "b", "c"]);
        assert!(parse_scopes("").is_empty());
        assert!(parse_scopes(" , ").is_empty());
    }
}
