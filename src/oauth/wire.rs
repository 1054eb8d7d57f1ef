//! The token endpoint's JSON bodies as serde types.
//!
//! In wasm the platform parses the body (`JSON.parse`) and serde-wasm-bindgen reads the parsed
//! value into these types; natively (tests, fuzzing) serde_json does the same from text. Every
//! field is read loosely ([`Scalar`]) so that a wrongly typed field becomes a precise
//! `invalid_response` message instead of a generic serde error, and no visitor ever descends into
//! nesting it does not need: a hostile body of 100,000 `[` costs no Rust stack.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// One JSON value as far as classification cares: a string, a number, a boolean, `null`, or
/// something else (an array or object, skipped without being read).
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Other,
}

impl Scalar {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Num(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Num(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Num(v as f64))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// The `error` member: RFC 6749's string code, or Avito's `{"code": 403, "message": "…"}`.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorMember {
    Code(String),
    Avito { message: Option<String> },
    Other,
}

struct ErrorVisitor;

impl<'de> Visitor<'de> for ErrorVisitor {
    type Value = ErrorMember;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an error code or object")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Code(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Code(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ErrorMember, A::Error> {
        let mut message = None;
        while let Some(key) = map.next_key::<Scalar>()? {
            if key.as_str() == Some("message") {
                // Last duplicate wins, as with JSON.parse.
                message = map.next_value::<Scalar>()?.as_str().map(str::to_owned);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(ErrorMember::Avito { message })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ErrorMember, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(ErrorMember::Other)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Other)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Other)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Other)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Other)
    }
    fn visit_none<E: de::Error>(self) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Other)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<ErrorMember, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Deserialize<'de> for ErrorMember {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ErrorMember, D::Error> {
        d.deserialize_any(ErrorVisitor)
    }
}

/// A token endpoint body that is a JSON object: a token, an RFC 6749 error, or Avito's error.
/// Unknown members are ignored; a member that is absent is `None`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct WireBody {
    pub access_token: Option<Scalar>,
    pub expires_in: Option<Scalar>,
    pub token_type: Option<Scalar>,
    pub refresh_token: Option<Scalar>,
    pub scope: Option<Scalar>,
    pub error: Option<ErrorMember>,
    pub error_description: Option<Scalar>,
    pub message: Option<Scalar>,
}

/// What the body turned out to be once parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyShape {
    /// A JSON object.
    Object(WireBody),
    /// Valid JSON, but not an object (`null`, an array, a string, a number).
    OtherJson,
    /// Not JSON at all (HTML from a proxy, an empty body, a truncated body).
    NotJson,
}

/// Parses a body natively (tests and fuzzing; the wasm build uses `JSON.parse`). serde_json
/// refuses nesting deeper than 128 levels as an error, which is "not JSON" here, as a platform
/// whose `JSON.parse` gives up would be.
#[cfg(any(test, feature = "native-json"))]
pub fn parse_native(text: &str) -> BodyShape {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(_)) => match serde_json::from_str::<WireBody>(text) {
            Ok(body) => BodyShape::Object(body),
            Err(_) => BodyShape::NotJson,
        },
        Ok(_) => BodyShape::OtherJson,
        Err(_) => BodyShape::NotJson,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_member_loosely() {
        let BodyShape::Object(b) = parse_native(
            r#"{"access_token":"A","expires_in":"86400","token_type":null,"scope":[1,[2]],"x":{"y":[[[]]]}}"#,
        ) else {
            panic!()
        };
        assert_eq!(b.access_token, Some(Scalar::Str("A".into())));
        assert_eq!(b.expires_in, Some(Scalar::Str("86400".into())));
        assert_eq!(b.token_type, None); // null reads as absent
        assert_eq!(b.scope, Some(Scalar::Other));
        assert_eq!(b.refresh_token, None);
    }

    #[test]
    fn error_shapes() {
        let BodyShape::Object(b) =
            parse_native(r#"{"error":"invalid_grant","error_description":"d"}"#)
        else {
            panic!()
        };
        assert_eq!(b.error, Some(ErrorMember::Code("invalid_grant".into())));
        let BodyShape::Object(b) =
            parse_native(r#"{"error":{"code":403,"message":"Forbidden","x":[1]}}"#)
        else {
            panic!()
        };
        assert_eq!(
            b.error,
            Some(ErrorMember::Avito {
                message: Some("Forbidden".into())
            })
        );
        let BodyShape::Object(b) = parse_native(r#"{"error":5}"#) else {
            panic!()
        };
        assert_eq!(b.error, Some(ErrorMember::Other));
    }

    #[test]
    fn shapes() {
        assert_eq!(parse_native("null"), BodyShape::OtherJson);
        assert_eq!(parse_native("[]"), BodyShape::OtherJson);
        assert_eq!(parse_native("<html>"), BodyShape::NotJson);
        assert_eq!(parse_native(""), BodyShape::NotJson);
        assert_eq!(parse_native(&"[".repeat(100_000)), BodyShape::NotJson);
        assert_eq!(
            parse_native(&format!(
                "{{\"a\":{}1{}}}",
                "[".repeat(100),
                "]".repeat(100)
            )),
            BodyShape::Object(WireBody::default())
        );
    }
}
