//! The committed table of Avito's operations (`avito_auth::oauth::operations`, written by
//! `scripts/gen-operations.mjs`) against the reference it was generated from. The reference sits
//! next to the repository (`../shared/reference/`, in CI too): without it this test does not
//! compile, so a missing file fails loudly instead of skipping. After the reference changes, run
//! `node scripts/gen-operations.mjs`.

use avito_auth::oauth::operations::{find, operations, Operation};
use serde_json::Value;
use std::collections::BTreeMap;

const REFERENCE: &str = include_str!("../../../shared/reference/avito-api-operations.json");

/// What the table must hold for one operation, read from the reference by the rules the
/// generator states (seller scopes: `authorization_code` or none; an application token:
/// `client_credentials` is a list).
fn expected() -> BTreeMap<(String, String), (Vec<String>, bool)> {
    let reference: Value = serde_json::from_str(REFERENCE).expect("the reference is JSON");
    let operations = reference["operations"]
        .as_array()
        .expect("the reference lists operations");
    assert!(
        operations.len() >= 200,
        "only {} operations",
        operations.len()
    );
    let mut out = BTreeMap::new();
    for op in operations {
        if op["server"] != "https://api.avito.ru" {
            continue;
        }
        let text = |v: &Value| v.as_str().expect("a string").to_owned();
        let scopes = match &op["authorization_code"] {
            Value::Null => vec![],
            list => list.as_array().expect("a list").iter().map(text).collect(),
        };
        let application = !op["client_credentials"].is_null();
        let key = (text(&op["method"]).to_ascii_uppercase(), text(&op["path"]));
        if let Some(seen) = out.insert(key.clone(), (scopes.clone(), application)) {
            assert_eq!(
                seen,
                (scopes, application),
                "{key:?} listed twice, differently"
            );
        }
    }
    out
}

#[test]
fn the_table_is_the_reference() {
    let want = expected();
    let mut have = BTreeMap::new();
    for op in operations() {
        let key = (op.method.to_owned(), op.path.to_owned());
        let value = (
            op.scopes().map(str::to_owned).collect::<Vec<_>>(),
            op.application,
        );
        assert!(have.insert(key.clone(), value).is_none(), "{key:?} twice");
    }
    for (key, value) in &want {
        assert_eq!(have.get(key), Some(value), "{key:?}: table vs reference");
    }
    assert_eq!(
        have.len(),
        want.len(),
        "the table has operations the reference lacks"
    );
    assert_eq!(operations().count(), 175);
}

/// A request path that calls `op`: each `{param}` filled in.
fn instance(op: &Operation) -> String {
    op.path
        .split('/')
        .map(|s| if s.starts_with('{') { "v-1" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_operation_is_found_by_a_request_to_it() {
    for op in operations() {
        let path = instance(&op);
        assert_eq!(find(op.method, &path), Some(op), "{} {path}", op.method);
        let other_slash = match path.strip_suffix('/') {
            Some(bare) => bare.to_owned(),
            None => format!("{path}/"),
        };
        assert_eq!(
            find(&op.method.to_ascii_lowercase(), &other_slash),
            Some(op)
        );
    }
}

#[test]
fn of_two_templates_that_can_match_one_path_the_more_specific_comes_first() {
    let segments =
        |p: &'static str| -> Vec<&'static str> { p.trim_matches('/').split('/').collect() };
    let param = |s: &str| s.starts_with('{');
    let all: Vec<Operation> = operations().collect();
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            let (sa, sb) = (segments(a.path), segments(b.path));
            if a.method != b.method || sa.len() != sb.len() {
                continue;
            }
            let overlap = sa
                .iter()
                .zip(&sb)
                .all(|(x, y)| x == y || param(x) || param(y));
            if !overlap {
                continue;
            }
            // At the first place they differ, the earlier one has the literal segment.
            let first = sa.iter().zip(&sb).find(|(x, y)| param(x) != param(y));
            assert!(
                first.is_some_and(|(x, _)| !param(x)),
                "{} {} and {} overlap in this order",
                a.method,
                a.path,
                b.path
            );
        }
    }
}
