//! What an authorization callback (`?code=…&state=…` or `?error=…`) says, once the edge has read
//! its query parameters with the platform's URL parser.

use super::failure::Failure;
use super::redact::{truncate, FIELD_LIMIT};

/// The query parameters of a callback that matter.
#[derive(Debug, Default, Clone, Copy)]
pub struct CallbackParams<'a> {
    pub state: Option<&'a str>,
    pub code: Option<&'a str>,
    pub error: Option<&'a str>,
    pub error_description: Option<&'a str>,
}

/// The code of a callback whose `state` is the one stored when the sign-in began. The state is
/// checked first (a forged callback is refused whatever else it holds); then `?error=` (the user
/// declined: `access_denied`); then the code.
pub fn read_callback<'a>(p: &CallbackParams<'a>, expected_state: &str) -> Result<&'a str, Failure> {
    if p.state != Some(expected_state) {
        return Err(Failure::InvalidArgument {
            detail: "the callback's state does not match the expected state (possible CSRF): start the sign-in again".into(),
            error: Some("state_mismatch".into()),
        });
    }
    if let Some(error) = p.error.filter(|e| !e.is_empty()) {
        // A callback URL is anyone's text: bounded like a response's fields.
        return Err(Failure::OAuth {
            error: truncate(error, FIELD_LIMIT),
            error_description: p.error_description.map(|d| truncate(d, FIELD_LIMIT)),
            response: None,
        });
    }
    match p.code.filter(|c| !c.is_empty()) {
        Some(code) => Ok(code),
        None => Err(Failure::InvalidArgument {
            detail: "the callback has no code".into(),
            error: Some("missing_code".into()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::failure::Kind;

    #[test]
    fn state_first_then_error_then_code() {
        let p = |state, code, error| CallbackParams {
            state,
            code,
            error,
            error_description: Some("no"),
        };
        assert_eq!(
            read_callback(&p(Some("S"), Some("C"), None), "S").unwrap(),
            "C"
        );
        assert_eq!(
            read_callback(&p(Some("X"), Some("C"), Some("access_denied")), "S")
                .unwrap_err()
                .error(),
            Some("state_mismatch")
        );
        assert_eq!(
            read_callback(&p(None, Some("C"), None), "S")
                .unwrap_err()
                .error(),
            Some("state_mismatch")
        );
        let denied = read_callback(&p(Some("S"), None, Some("access_denied")), "S").unwrap_err();
        assert_eq!(
            (denied.kind(), denied.error_description()),
            (Kind::OAuth, Some("no"))
        );
        assert_eq!(
            denied.message(),
            "the authorization was refused: \"access_denied\": no"
        );
        assert_eq!(
            read_callback(&p(Some("S"), Some(""), None), "S")
                .unwrap_err()
                .error(),
            Some("missing_code")
        );
    }
}
