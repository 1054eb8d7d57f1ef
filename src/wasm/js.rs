//! Small helpers over `Reflect`.

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `Reflect.set` on objects we created ourselves: it cannot throw, so no `catch` wrapper.
    #[wasm_bindgen(js_namespace = Reflect, js_name = set)]
    fn reflect_set(target: &JsValue, key: &JsValue, value: &JsValue) -> bool;
}

/// `target[key]` for any value (undefined for non-objects, getters that throw, proxies).
pub fn get(target: &JsValue, key: &JsValue) -> JsValue {
    if target.is_object() || target.is_function() {
        Reflect::get(target, key).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// Sets a property on an object this crate created.
pub fn set(target: &JsValue, key: &JsValue, value: &JsValue) {
    reflect_set(target, key, value);
}
