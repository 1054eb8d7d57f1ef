//! The shape of Avito's OpenAPI-generated client: `Configuration`, `ApiClient`,
//! `ApplicationAccessApi` (authorization_code, refresh_token) and `AccessApi`
//! (client_credentials), with its names and parameter order.

use super::exception::EdgeError;
use super::exception::{exception, rejected};
use super::js::CallerSignal;
use super::options::{self, PreservedOptions};
use super::transport::request_outcome;
use super::transport::settings::{Call, ConfigurationOptions, Settings};
use super::transport::token_set::Results;
use crate::oauth::request::{check_grant_type, require_arg, token_body, Grant};
use serde::Serialize;
use std::rc::Rc;
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Configuration settings: `host`, `fetch`, `timeoutMs`, `retries`, `userAgent`, `headers`.
/// Validated once; read-only afterwards (make a new one to change it).
#[wasm_bindgen]
pub struct Configuration {
    settings: Rc<Settings>,
}

/// Opaque handles by which Rust finds the Rust side of an exported object that JavaScript hands
/// back (wasm-bindgen's `TryFromJsValue` would take the object itself over). The object's hidden
/// method returns a fresh handle, which Rust takes over; its class is checked on the way, so a
/// look-alike object cannot forge one.
macro_rules! handle {
    ($handle:ident, $method:literal, $of:ident, $inner:ty) => {
        #[wasm_bindgen(skip_typescript)]
        pub struct $handle(pub(crate) $inner);

        /// The Rust side behind a JS object of the class, or `None` for anything else.
        pub fn $of(value: &JsValue) -> Option<$inner> {
            let method = super::js::get(value, $method)
                .dyn_into::<js_sys::Function>()
                .ok()?;
            let handle = method.call0(value).ok()?;
            $handle::try_from_js_value(handle).ok().map(|h| h.0)
        }
    };
}
pub(crate) use handle;

handle!(
    ConfigurationHandle,
    "__configuration",
    configuration_of,
    Rc<Settings>
);
handle!(ApiClientHandle, "__apiClient", api_client_of, Rc<Settings>);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfigurationJson<'a> {
    host: &'a str,
    timeout_ms: f64,
}

#[wasm_bindgen]
impl Configuration {
    /// Throws `ApiException` (`invalid_argument`) for a bad option.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "ConfigurationOptions")] options: JsValue,
    ) -> Result<Configuration, EdgeError> {
        let snapshot = options::snapshot(&options, "Configuration options")?;
        options::refuse_unknown(
            snapshot.as_ref(),
            &options::CONFIGURATION_OPTIONS,
            "Configuration",
        )?;
        let o: ConfigurationOptions = options::from_snapshot(snapshot.as_ref(), "")?;
        Ok(Configuration {
            settings: Rc::new(Settings::from_options(&o)?),
        })
    }
    /// The normalised host (no trailing slash).
    #[wasm_bindgen(getter)]
    pub fn host(&self) -> String {
        self.settings.host.clone()
    }
    #[wasm_bindgen(getter, js_name = timeoutMs)]
    pub fn timeout_ms(&self) -> f64 {
        self.settings.timeout_ms
    }
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "{ host: string; timeoutMs: number }")]
    pub fn to_json(&self) -> JsValue {
        serde_wasm_bindgen::to_value(&ConfigurationJson {
            host: &self.settings.host,
            timeout_ms: self.settings.timeout_ms,
        })
        .unwrap_or(JsValue::NULL)
    }
    #[wasm_bindgen(js_name = __configuration, skip_typescript)]
    pub fn handle(&self) -> ConfigurationHandle {
        ConfigurationHandle(self.settings.clone())
    }
}

/// Holds a `Configuration`; `new ApiClient()` uses the defaults.
#[wasm_bindgen]
pub struct ApiClient {
    configuration: JsValue,
    settings: Rc<Settings>,
}

#[wasm_bindgen]
impl ApiClient {
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "Configuration")] configuration: JsValue,
    ) -> Result<ApiClient, EdgeError> {
        let configuration = if super::js::absent(&configuration) {
            Configuration::new(JsValue::UNDEFINED)?.into()
        } else {
            configuration
        };
        let settings = configuration_of(&configuration)
            .ok_or_else(|| EdgeError::invalid(&["ApiClient expects a Configuration"]))?;
        Ok(ApiClient {
            configuration,
            settings,
        })
    }
    /// The `Configuration` this client was made with.
    #[wasm_bindgen(getter, unchecked_return_type = "Configuration")]
    pub fn configuration(&self) -> JsValue {
        self.configuration.clone()
    }
    /// Nothing to release; present for parity with the generated client.
    pub fn close(&self) {}
    #[wasm_bindgen(js_name = __apiClient, skip_typescript)]
    pub fn handle(&self) -> ApiClientHandle {
        ApiClientHandle(self.settings.clone())
    }
}

/// The `ApiClient` a seed-layer API was given (a default one when absent).
fn client_of(api_client: JsValue) -> Result<(JsValue, Rc<Settings>), EdgeError> {
    let api_client = if super::js::absent(&api_client) {
        ApiClient::new(JsValue::UNDEFINED)?.into()
    } else {
        api_client
    };
    let settings =
        api_client_of(&api_client).ok_or_else(|| EdgeError::invalid(&["expected an ApiClient"]))?;
    Ok((api_client, settings))
}

/// A seed-layer call: validate everything now (reject at once), then run the request.
pub fn seed_call(
    settings: &Rc<Settings>,
    grant: Grant,
    client_id: &JsValue,
    client_secret: &JsValue,
    grant_secret: &JsValue,
    grant_type: &JsValue,
    call_options: &JsValue,
) -> js_sys::Promise {
    match prepare(
        grant,
        client_id,
        client_secret,
        grant_secret,
        grant_type,
        call_options,
    ) {
        Ok(call) => spawn(settings.clone(), call),
        Err(error) => rejected(error),
    }
}

fn prepare(
    grant: Grant,
    client_id: &JsValue,
    client_secret: &JsValue,
    grant_secret: &JsValue,
    grant_type: &JsValue,
    call_options: &JsValue,
) -> Result<Call, EdgeError> {
    let (_, signal) = call_options_of(call_options)?;
    let client_id = options::string_or_none(client_id, "clientId")?;
    let client_secret = options::string_or_none(client_secret, "clientSecret")?;
    let grant_secret = options::string_or_none(grant_secret, secret_name(grant))?;
    // grantType: absent means the method's own grant; a non-string is refused as a mismatch.
    let grant_type = if super::js::absent(grant_type) {
        None
    } else {
        Some(grant_type.as_string().unwrap_or_default())
    };
    build_call(CallArgs {
        grant,
        client_id,
        client_secret,
        grant_secret,
        grant_type: grant_type.as_deref(),
        redirect_uri: None,
        signal,
        results: Results::Plain,
    })
}

/// What every grant call reads first: its options (`{ signal, … }`, read once) and the
/// caller's signal.
pub fn call_options_of(
    call_options: &JsValue,
) -> Result<(PreservedOptions, Option<CallerSignal>), EdgeError> {
    let o: PreservedOptions = options::from_object(call_options, "options")?;
    let signal = options::signal(&o.signal)?;
    Ok((o, signal))
}

/// The name a grant's single-use credential has in messages.
pub fn secret_name(grant: Grant) -> &'static str {
    if grant == Grant::RefreshToken {
        "refreshToken"
    } else {
        "code"
    }
}

/// A grant call's arguments as read from JavaScript, before the core's checks.
pub struct CallArgs<'a> {
    pub grant: Grant,
    /// `None` when the JS value was not a string (the core words the refusal).
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub grant_secret: Option<String>,
    /// The seed layer's `grantType` argument, when given.
    pub grant_type: Option<&'a str>,
    pub redirect_uri: Option<String>,
    pub signal: Option<CallerSignal>,
    pub results: Results,
}

/// Checks a call's arguments with the core's rules and builds its form body.
pub fn build_call(args: CallArgs) -> Result<Call, EdgeError> {
    let CallArgs {
        grant,
        client_id,
        client_secret,
        grant_secret,
        grant_type,
        redirect_uri,
        signal,
        results,
    } = args;
    let client_id = require_arg("clientId", client_id)?;
    let client_secret = require_arg("clientSecret", client_secret)?;
    let grant_secret = match grant {
        Grant::AuthorizationCode => Some(require_arg("code", grant_secret)?),
        Grant::RefreshToken => Some(require_arg("refreshToken", grant_secret)?),
        Grant::ClientCredentials => None,
    };
    check_grant_type(grant, grant_type)?;
    let body = token_body(
        grant,
        &client_id,
        &client_secret,
        grant_secret.as_deref(),
        redirect_uri.as_deref(),
    );
    let secrets = [Some(client_secret), grant_secret]
        .into_iter()
        .flatten()
        .collect();
    Ok(Call {
        grant,
        body,
        secrets,
        signal,
        results,
    })
}

/// Runs a checked call; every exported method hands its call to this one future.
pub fn spawn(settings: Rc<Settings>, call: Call) -> js_sys::Promise {
    super::promise(async move {
        request_outcome(&settings, &call)
            .await
            .map_err(|f| exception(&f))
    })
}

/// authorization_code and refresh_token grants (tokens on behalf of a user).
#[wasm_bindgen]
pub struct ApplicationAccessApi {
    api_client: JsValue,
    settings: Rc<Settings>,
}

#[wasm_bindgen]
impl ApplicationAccessApi {
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = apiClient, unchecked_optional_param_type = "ApiClient")]
        api_client: JsValue,
    ) -> Result<ApplicationAccessApi, EdgeError> {
        let (api_client, settings) = client_of(api_client)?;
        Ok(ApplicationAccessApi {
            api_client,
            settings,
        })
    }
    #[wasm_bindgen(getter, js_name = apiClient, unchecked_return_type = "ApiClient")]
    pub fn api_client(&self) -> JsValue {
        self.api_client.clone()
    }
    /// authorization_code → `{ access_token, expires_in, token_type, refresh_token, scope }`.
    #[wasm_bindgen(js_name = getAccessTokenAuthorizationCode, unchecked_return_type = "Promise<GetAccessTokenAuthorizationCode200Response>")]
    pub fn get_access_token_authorization_code(
        &self,
        #[wasm_bindgen(js_name = clientId, unchecked_param_type = "string")] client_id: JsValue,
        #[wasm_bindgen(js_name = clientSecret, unchecked_param_type = "string")]
        client_secret: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] code: JsValue,
        #[wasm_bindgen(js_name = grantType, unchecked_optional_param_type = "\"authorization_code\"")]
        grant_type: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: JsValue,
    ) -> js_sys::Promise {
        seed_call(
            &self.settings,
            Grant::AuthorizationCode,
            &client_id,
            &client_secret,
            &code,
            &grant_type,
            &options,
        )
    }
    /// refresh_token (grantType before refreshToken, as in the generated client) → a token with
    /// a NEW refresh_token.
    #[wasm_bindgen(js_name = refreshAccessTokenAuthorizationCode, unchecked_return_type = "Promise<RefreshAccessTokenAuthorizationCode200Response>")]
    pub fn refresh_access_token_authorization_code(
        &self,
        #[wasm_bindgen(js_name = clientId, unchecked_param_type = "string")] client_id: JsValue,
        #[wasm_bindgen(js_name = clientSecret, unchecked_param_type = "string")]
        client_secret: JsValue,
        #[wasm_bindgen(js_name = grantType, unchecked_param_type = "\"refresh_token\" | undefined")]
        grant_type: JsValue,
        #[wasm_bindgen(js_name = refreshToken, unchecked_param_type = "string")]
        refresh_token: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: JsValue,
    ) -> js_sys::Promise {
        seed_call(
            &self.settings,
            Grant::RefreshToken,
            &client_id,
            &client_secret,
            &refresh_token,
            &grant_type,
            &options,
        )
    }
}

/// client_credentials grant (tokens for the application itself).
#[wasm_bindgen]
pub struct AccessApi {
    api_client: JsValue,
    settings: Rc<Settings>,
}

#[wasm_bindgen]
impl AccessApi {
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = apiClient, unchecked_optional_param_type = "ApiClient")]
        api_client: JsValue,
    ) -> Result<AccessApi, EdgeError> {
        let (api_client, settings) = client_of(api_client)?;
        Ok(AccessApi {
            api_client,
            settings,
        })
    }
    #[wasm_bindgen(getter, js_name = apiClient, unchecked_return_type = "ApiClient")]
    pub fn api_client(&self) -> JsValue {
        self.api_client.clone()
    }
    /// client_credentials → `{ access_token, expires_in, token_type }`.
    #[wasm_bindgen(js_name = getAccessToken, unchecked_return_type = "Promise<GetAccessToken200Response>")]
    pub fn get_access_token(
        &self,
        #[wasm_bindgen(js_name = clientId, unchecked_param_type = "string")] client_id: JsValue,
        #[wasm_bindgen(js_name = clientSecret, unchecked_param_type = "string")]
        client_secret: JsValue,
        #[wasm_bindgen(js_name = grantType, unchecked_optional_param_type = "\"client_credentials\"")]
        grant_type: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: JsValue,
    ) -> js_sys::Promise {
        seed_call(
            &self.settings,
            Grant::ClientCredentials,
            &client_id,
            &client_secret,
            &JsValue::UNDEFINED,
            &grant_type,
            &options,
        )
    }
}
