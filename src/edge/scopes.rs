//! `requiredScopes`, and the facts `tm.fetch` reads from a refused call for the core's
//! question whether a declared scope is missing ([`crate::oauth::operations`]): the call's
//! method and URL, and the scopes the token's set names.

use super::exception::invalid;
use super::js;
use super::options;
use super::transport::settings::DEFAULT_HOST;
use crate::oauth::operations;
use crate::oauth::scope::parse_scopes;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// `url` as the platform's URL parser serialises it (lower-case host, no default port, dot
/// segments resolved), if it is absolute.
fn serialized(url: &str) -> Option<String> {
    web_sys::Url::new(url).ok().map(|u| u.href())
}

/// The API path of `href` (serialised) on `host` (a validated base URL, `AvitoAuth`'s `host`).
fn path_on<'a>(href: &'a str, host: &str) -> Option<&'a str> {
    let host = serialized(host)?;
    operations::api_path(href, host.trim_end_matches('/'))
}

/// The scopes the Avito API operation `method url` declares for a seller's token (`[]`: none),
/// or `undefined` when it is not one of Avito's published operations on `host` (default
/// `https://api.avito.ru`; another base, such as a proxy's, is matched the same way). Throws
/// `ApiException` (`invalid_argument`) for a bad argument.
#[wasm_bindgen(js_name = requiredScopes, unchecked_return_type = "AvitoScope[] | undefined")]
pub fn required_scopes(
    #[wasm_bindgen(unchecked_param_type = "string")] method: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string | URL")] url: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "string")] host: JsValue,
) -> Result<JsValue, JsValue> {
    let method = options::required_string(&method, "method")?;
    let href = match url.dyn_ref::<web_sys::Url>() {
        Some(url) => url.href(),
        None => serialized(&options::required_string(&url, "url")?)
            .ok_or_else(|| invalid("url must be an absolute URL"))?,
    };
    let host = match js::absent(&host) {
        true => DEFAULT_HOST.to_owned(),
        false => options::base_url(&host, "host")?,
    };
    let operation = path_on(&href, &host).and_then(|path| operations::find(&method, path));
    Ok(operation.map_or(JsValue::UNDEFINED, |op| {
        let list: js_sys::Array = op.scopes().map(JsValue::from_str).collect();
        list.into()
    }))
}

/// More scopes than Avito has (26) are not read from a set.
const MAX_SCOPES: usize = 64;

/// The scopes a TokenSet names, in `scopes` (a list) or `scope` (Avito's comma-joined string).
pub fn granted(set: &JsValue) -> Vec<String> {
    // Copied through a catching call (the stored set is the store's object), and bounded.
    let listed = js::get(set, "scopes");
    let mut names: Vec<String> = match js_sys::Array::is_array(&listed) {
        true => js::array_from(&listed).map_or_else(
            |_| Vec::new(),
            |list| {
                let names = list.iter().take(MAX_SCOPES);
                names.filter_map(|s| s.as_string()).collect()
            },
        ),
        false => Vec::new(),
    };
    if let Some(scope) = js::get(set, "scope").as_string() {
        names.extend(parse_scopes(&scope).into_iter().map(str::to_owned));
    }
    names
}

/// The method and URL of a call `fetch(target, init)`, as a refusal's scope check and its event
/// read them.
pub struct Call {
    pub method: String,
    pub href: Option<String>,
}

impl Call {
    pub fn of(target: &JsValue, init: &JsValue) -> Call {
        let request = target.dyn_ref::<web_sys::Request>();
        let href = match (request, target.dyn_ref::<web_sys::Url>()) {
            (Some(request), _) => Some(request.url()),
            (None, Some(url)) => Some(url.href()),
            (None, None) => target.as_string().as_deref().and_then(serialized),
        };
        let method = js::get(init, "method")
            .as_string()
            .or_else(|| request.map(web_sys::Request::method))
            .unwrap_or_else(|| "GET".to_owned());
        Call { method, href }
    }

    /// The URL's path, without its query (what an event may show).
    pub fn path(&self) -> Option<String> {
        let url = web_sys::Url::new(self.href.as_deref()?).ok()?;
        Some(url.pathname())
    }
}

/// The scopes the call `call` sent to `host` with a token of `set` declares and the set was not
/// granted (empty: none, or not an Avito operation).
pub fn missing_scopes(set: &JsValue, call: &Call, host: &str) -> Vec<&'static str> {
    let granted = granted(set);
    let granted: Vec<&str> = granted.iter().map(String::as_str).collect();
    call.href
        .as_deref()
        .and_then(|href| path_on(href, host))
        .and_then(|path| operations::missing_scopes(&call.method, path, &granted))
        .unwrap_or_default()
}
