//! `AvitoAuth`, the ergonomic client (one per Avito application), and `parseCallback`.

use super::client::{build_call, call_options_of, handle, secret_name, spawn, CallArgs};
use super::exception::EdgeError;
use super::exception::{rejected, unserializable};
use super::js::{self, absent};
use super::options;
use super::random::random_state;
use super::transport::settings::{Call, ConfigurationOptions, Settings};
use super::transport::token_set::Results;
use crate::oauth::callback::{read_callback, CallbackParams};
use crate::oauth::request::Grant;
use crate::oauth::text::{join_str, push_u64};
use crate::oauth::url::{consent_url, DEFAULT_AUTHORIZE_URL};
use serde::Serialize;
use std::rc::Rc;
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// What an `AvitoAuth` holds. The client secret never leaves Rust except in request bodies.
pub struct AuthInner {
    pub client_id: String,
    client_secret: String,
    pub settings: Rc<Settings>,
    authorize_url: String,
}

handle!(AuthHandle, "__auth", auth_of, Rc<AuthInner>);

impl AuthInner {
    /// A grant's request through this client: arguments checked now, the request run later.
    pub fn call(
        &self,
        grant: Grant,
        grant_secret: &JsValue,
        call_options: &JsValue,
    ) -> Result<Call, EdgeError> {
        let (o, signal) = call_options_of(call_options)?;
        let grant_secret = options::string_or_none(grant_secret, secret_name(grant))?;
        let redirect_uri = match grant {
            Grant::AuthorizationCode => options::optional_string(&o.redirect_uri, "redirectUri")?,
            _ => None,
        };
        build_call(CallArgs {
            grant,
            client_id: Some(self.client_id.clone()),
            client_secret: Some(self.client_secret.clone()),
            grant_secret,
            grant_type: None,
            redirect_uri,
            signal,
            results: Results::WithExpiry,
        })
    }
}

#[derive(Serialize)]
struct AuthorizationUrl {
    url: String,
    state: String,
}

#[derive(Serialize)]
struct Callback<'a> {
    code: &'a str,
    state: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthJson<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    host: &'a str,
}

/// The ergonomic client: one object per Avito application (client id and secret).
#[wasm_bindgen]
pub struct AvitoAuth {
    inner: Rc<AuthInner>,
}

#[wasm_bindgen]
impl AvitoAuth {
    /// `{ clientId, clientSecret, host?, fetch?, timeoutMs?, retries?, userAgent?, headers?, authorizeUrl? }`.
    /// Throws `ApiException` (`invalid_argument`) for bad options.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "AvitoAuthOptions")] options: JsValue,
    ) -> Result<AvitoAuth, EdgeError> {
        if absent(&options) {
            return Err(EdgeError::invalid(&["AvitoAuth options must be an object"]));
        }
        // One copy of the options (each getter runs once), read as two structs.
        let snapshot = options::snapshot(&options, "AvitoAuth options")?;
        let [host, fetch, timeout, retries, agent, headers] = options::CONFIGURATION_OPTIONS;
        let known = [
            "clientId",
            "clientSecret",
            "authorizeUrl",
            host,
            fetch,
            timeout,
            retries,
            agent,
            headers,
        ];
        options::refuse_unknown(snapshot.as_ref(), &known, "AvitoAuth")?;
        let extra: options::PreservedOptions = options::from_snapshot(snapshot.as_ref(), "")?;
        let client_id = options::required_string(&extra.client_id, "clientId")?;
        let client_secret = options::required_string(&extra.client_secret, "clientSecret")?;
        let transport: ConfigurationOptions = options::from_snapshot(snapshot.as_ref(), "")?;
        let settings = Rc::new(Settings::from_options(&transport)?);
        let authorize_url = if absent(&extra.authorize_url) {
            DEFAULT_AUTHORIZE_URL.to_owned()
        } else {
            options::base_url(&extra.authorize_url, "authorizeUrl")?
        };
        Ok(AvitoAuth {
            inner: Rc::new(AuthInner {
                client_id,
                client_secret,
                settings,
                authorize_url,
            }),
        })
    }

    #[wasm_bindgen(getter, js_name = clientId)]
    pub fn client_id(&self) -> String {
        self.inner.client_id.clone()
    }

    /// `{host}` without `/token`.
    #[wasm_bindgen(getter)]
    pub fn host(&self) -> String {
        self.inner.settings.host.clone()
    }

    /// Builds the Avito consent URL; keep the returned `state` (e.g. in a cookie) for the callback.
    #[wasm_bindgen(js_name = authorizationUrl, unchecked_return_type = "{ url: string; state: string }")]
    pub fn authorization_url(
        &self,
        #[wasm_bindgen(unchecked_param_type = "AuthorizationUrlOptions")] options: JsValue,
    ) -> Result<JsValue, EdgeError> {
        let o: options::PreservedOptions =
            options::from_object(&options, "authorizationUrl options")?;
        let scope = match o.scope.dyn_ref::<js_sys::Array>() {
            Some(list) if list.length() == 0 => {
                return Err(EdgeError::invalid(&["scope must name at least one scope"]))
            }
            Some(list) => join_str(
                &list
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let mut name = String::from("scope[");
                        push_u64(&mut name, i as u64);
                        name.push(']');
                        options::required_string(&s, &name)
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                ",",
            ),
            None => options::required_string(&o.scope, "scope")?,
        };
        let state = if absent(&o.state) {
            random_state()?
        } else {
            options::required_string(&o.state, "state")?
        };
        let redirect_uri = options::optional_string(&o.redirect_uri, "redirectUri")?;
        let url = consent_url(
            &self.inner.authorize_url,
            &self.inner.client_id,
            &scope,
            &state,
            redirect_uri.as_deref(),
        );
        serde_wasm_bindgen::to_value(&AuthorizationUrl { url, state })
            .map_err(|_| unserializable("authorization URL"))
    }

    /// See the exported `parseCallback`.
    #[wasm_bindgen(js_name = parseCallback, unchecked_return_type = "CallbackResult")]
    pub fn parse_callback(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CallbackInput")] input: JsValue,
        #[wasm_bindgen(js_name = expectedState, unchecked_param_type = "string")]
        expected_state: JsValue,
    ) -> Result<JsValue, EdgeError> {
        parse_callback(input, expected_state)
    }

    /// authorization_code grant → TokenSet (store its refresh_token). `{ redirectUri, signal }`.
    #[wasm_bindgen(js_name = exchangeCode, unchecked_return_type = "Promise<TokenSet>")]
    pub fn exchange_code(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] code: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions & { redirectUri?: string }")]
        options: JsValue,
    ) -> js_sys::Promise {
        self.run(Grant::AuthorizationCode, &code, &options)
    }

    /// refresh_token grant → TokenSet with a NEW refresh_token; the old one is spent.
    #[wasm_bindgen(unchecked_return_type = "Promise<TokenSet>")]
    pub fn refresh(
        &self,
        #[wasm_bindgen(js_name = refreshToken, unchecked_param_type = "string")]
        refresh_token: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: JsValue,
    ) -> js_sys::Promise {
        self.run(Grant::RefreshToken, &refresh_token, &options)
    }

    /// client_credentials grant → TokenSet.
    #[wasm_bindgen(js_name = clientCredentials, unchecked_return_type = "Promise<TokenSet>")]
    pub fn client_credentials(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: JsValue,
    ) -> js_sys::Promise {
        self.run(Grant::ClientCredentials, &JsValue::UNDEFINED, &options)
    }

    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "{ clientId: string; clientSecret: \"[redacted]\"; host: string }")]
    pub fn to_json(&self) -> JsValue {
        let json = AuthJson {
            client_id: &self.inner.client_id,
            client_secret: "[redacted]",
            host: &self.inner.settings.host,
        };
        serde_wasm_bindgen::to_value(&json).unwrap_or(JsValue::NULL)
    }

    #[wasm_bindgen(js_name = __auth, skip_typescript)]
    pub fn handle(&self) -> AuthHandle {
        AuthHandle(self.inner.clone())
    }
}

impl AvitoAuth {
    fn run(&self, grant: Grant, grant_secret: &JsValue, options: &JsValue) -> js_sys::Promise {
        match self.inner.call(grant, grant_secret, options) {
            Ok(call) => spawn(self.inner.settings.clone(), call),
            Err(error) => rejected(error),
        }
    }
}

/// The query parameters of a callback: a `URL`, `URLSearchParams`, a URL string (absolute or
/// not) or a `Request`.
fn search_params(input: &JsValue) -> Result<web_sys::UrlSearchParams, EdgeError> {
    if let Some(url) = input.dyn_ref::<web_sys::Url>() {
        return Ok(url.search_params());
    }
    if let Some(params) = input.dyn_ref::<web_sys::UrlSearchParams>() {
        return Ok(params.clone());
    }
    let href = match input.as_string() {
        Some(s) => Some(s),
        None if input.is_object() => js::get(input, "url").as_string(),
        None => None,
    };
    let href = href.ok_or_else(|| {
        EdgeError::invalid(&[
            "the callback must be a URL, a URL string, URLSearchParams or a Request",
        ])
    })?;
    web_sys::Url::new_with_base(&href, "http://callback.invalid/")
        .map(|u| u.search_params())
        .map_err(|_| EdgeError::invalid(&["the callback is not a valid URL"]))
}

/// Reads the authorization callback (`?code=…&state=…` or `?error=…`), checking `state` against
/// the one stored when the authorization URL was built; returns `{ code, state }`.
#[wasm_bindgen(js_name = parseCallback, unchecked_return_type = "CallbackResult")]
pub fn parse_callback(
    #[wasm_bindgen(unchecked_param_type = "CallbackInput")] input: JsValue,
    #[wasm_bindgen(js_name = expectedState, unchecked_param_type = "string")]
    expected_state: JsValue,
) -> Result<JsValue, EdgeError> {
    let params = search_params(&input)?;
    let expected = options::required_string(&expected_state, "expectedState")?;
    let (state, code, error, error_description) = (
        params.get("state"),
        params.get("code"),
        params.get("error"),
        params.get("error_description"),
    );
    let read = CallbackParams {
        state: state.as_deref(),
        code: code.as_deref(),
        error: error.as_deref(),
        error_description: error_description.as_deref(),
    };
    let code = read_callback(&read, &expected)?;
    serde_wasm_bindgen::to_value(&Callback {
        code,
        state: &expected,
    })
    .map_err(|_| unserializable("callback result"))
}
