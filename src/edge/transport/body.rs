//! Whatever the fetch resolved to, read structurally, through `catch` bindings (`js.rs`): the
//! platform's `Response`, npm undici's, one from another realm (all with a `getReader()` body),
//! node-fetch's (a Node stream body, read by its chunks) go through the one bounded reader; only
//! a look-alike with no body stream is read with its `text()`, which has no bound (README).
//! `JSON.parse` + serde-wasm-bindgen then read the text into the core's wire types.

use super::{settled, Broken, Stage};
use crate::edge::js::{self, BodyStream, ChunkIterator, LooseHeaders, LooseResponse, StreamReader};
use crate::edge::timing::Cancel;
use crate::oauth::classify::MAX_BODY;
use crate::oauth::wire::{BodyShape, WireBody};
use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// How much of an oversized body is kept for the error's `body` (before redaction and the final
/// 2 KiB bound).
const OVERSIZED_HEAD: usize = 16 * 1024;

/// A response as read: its status, its body text (at most 1 MiB, or the head of a larger body),
/// whether the body was larger, and `Retry-After` (read only on failures, where it counts).
pub struct Answer {
    pub status: u16,
    pub text: String,
    pub too_large: bool,
    pub retry_after: Option<String>,
}

/// Lets a promise go without waiting, and without an unhandled rejection if it rejects.
fn abandon(promise: Result<JsValue, JsValue>) {
    if let Ok(value) = promise {
        let promise = Promise::resolve(&value);
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(promise).await;
        });
    }
}

/// Where a body's bytes come from, one chunk at a time.
enum Chunks {
    /// A WHATWG stream's reader (the platform's Response, undici's, another realm's).
    Reader(StreamReader),
    /// A Node stream's async iterator (node-fetch).
    NodeStream(ChunkIterator),
}

impl Chunks {
    /// The body's chunk source: `Ok(None)` when the body is no stream at all.
    fn of(body: &JsValue) -> Result<Option<Chunks>, JsValue> {
        if !(body.is_object() || body.is_function()) {
            return Ok(None);
        }
        if js::get(body, "getReader").is_function() {
            let reader = body.unchecked_ref::<BodyStream>().get_reader()?;
            if !reader.is_object() {
                return Err(js_sys::Error::new("getReader() returned no reader").into());
            }
            return Ok(Some(Chunks::Reader(reader.unchecked_into())));
        }
        let iterate = js_sys::Reflect::get(body, &js_sys::Symbol::async_iterator())?;
        match iterate.dyn_ref::<Function>() {
            Some(iterate) => {
                let iterator = iterate.call0(body)?;
                if !iterator.is_object() {
                    return Err(js_sys::Error::new("the body's iterator is not an object").into());
                }
                Ok(Some(Chunks::NodeStream(iterator.unchecked_into())))
            }
            None => Ok(None),
        }
    }

    /// The next `{ done, value }`, as a promise.
    fn next(&self) -> Result<Promise, JsValue> {
        let next = match self {
            Chunks::Reader(r) => r.read()?,
            Chunks::NodeStream(i) => i.next()?,
        };
        Ok(Promise::resolve(&next))
    }

    /// Stops the source without waiting: cancels the stream (undici then drops the
    /// connection), or destroys the Node stream.
    fn stop(&self) {
        abandon(match self {
            Chunks::Reader(r) => r.cancel(),
            Chunks::NodeStream(i) => i.stop(),
        });
    }
}

/// The bytes of a chunk (a `Uint8Array` or a `Buffer`, of any realm), as a plain view made here:
/// the chunk's own `length`, `subarray` or species may be a subclass's and throw, so only its
/// `buffer`, `byteOffset` and `byteLength` are read (through catching getters), and the view
/// constructor checks them against the real buffer.
fn chunk_bytes(value: &JsValue) -> Option<Uint8Array> {
    if !js_sys::ArrayBuffer::is_view(value) {
        return None;
    }
    let tag = js_sys::Reflect::get(value, &js_sys::Symbol::to_string_tag()).ok()?;
    if tag.as_string().as_deref() != Some("Uint8Array") {
        return None;
    }
    let number = |key: &str| js::get(value, key).as_f64();
    let view = js::ByteView::new(
        &js::get(value, "buffer"),
        number("byteOffset")?,
        number("byteLength")?,
    )
    .ok()?;
    Some(view.unchecked_into())
}

/// Reads whatever the fetch resolved to: status, `Content-Length`, `Retry-After`, and the body
/// through the one bounded reader (or `text()` for a look-alike with no body stream).
pub async fn read_answer(res: LooseResponse, cancel: &Cancel) -> Result<Answer, Broken> {
    let value: &JsValue = res.as_ref();
    if !value.is_object() {
        return Err(Broken::NotAResponse);
    }
    let reading = |_: JsValue| Broken::Unreadable;
    let status = match res.status().map_err(reading)?.as_f64() {
        Some(s) if (0.0..=999.0).contains(&s) && s.fract() == 0.0 => s as u16,
        _ => return Err(Broken::NotAResponse),
    };
    let headers = res.headers().map_err(reading)?;
    let headers: Option<&LooseHeaders> = headers.is_object().then(|| headers.unchecked_ref());
    let header = |name: &str| -> Result<Option<String>, Broken> {
        match headers {
            Some(h) => Ok(h.get(name).map_err(reading)?.as_string()),
            None => Ok(None),
        }
    };
    let retry_after = if (200..300).contains(&status) {
        None
    } else {
        header("retry-after")?
    };
    let declared = header("content-length")?.and_then(|l| l.trim().parse::<u64>().ok());
    let body = res.body().map_err(reading)?;
    let answer = |text: String, too_large: bool| Answer {
        status,
        text,
        too_large,
        retry_after: retry_after.clone(),
    };
    let chunks = Chunks::of(&body).map_err(reading)?;
    if declared.is_some_and(|l| l > MAX_BODY as u64) {
        if let Some(chunks) = &chunks {
            chunks.stop();
        }
        return Ok(answer(String::new(), true));
    }
    match chunks {
        Some(chunks) => {
            let (text, too_large) = read_chunks(&chunks, declared, cancel).await?;
            Ok(answer(text, too_large))
        }
        // No body stream: a look-alike is read with its text(); without one it is no response.
        None if js::get(value, "text").is_function() => {
            let (text, too_large) = read_text(&res, cancel).await?;
            Ok(answer(text, too_large))
        }
        None => Err(Broken::NotAResponse),
    }
}

/// The one bounded reader: chunk by chunk into at most 1 MiB of decoded bytes, whatever
/// `Content-Length` or `Content-Encoding` say; past that the source is stopped and the head kept.
async fn read_chunks(
    chunks: &Chunks,
    declared: Option<u64>,
    cancel: &Cancel,
) -> Result<(String, bool), Broken> {
    if let Chunks::Reader(reader) = chunks {
        // `closed` rejects when the stream errors or is cancelled; workerd reports that as an
        // unhandled rejection unless someone observes it.
        abandon(reader.closed());
    }
    // A declared length sizes the buffer once (no growth by doubling, no copies); an undeclared
    // one grows as it comes, never past 1 MiB.
    let mut bytes: Vec<u8> = Vec::with_capacity(declared.map_or(0, |l| l as usize).min(MAX_BODY));
    let mut too_large = false;
    loop {
        let Ok(next) = chunks.next() else {
            chunks.stop();
            return Err(Broken::Unreadable);
        };
        let chunk = match settled(cancel, next, Stage::ReadingBody).await {
            Ok(chunk) => chunk,
            Err(broken) => {
                if matches!(broken, Broken::Fired { .. }) {
                    chunks.stop();
                }
                return Err(broken);
            }
        };
        if js::get(&chunk, "done").as_bool() == Some(true) {
            break;
        }
        let Some(part) = chunk_bytes(&js::get(&chunk, "value")) else {
            chunks.stop();
            return Err(Broken::NotAResponse);
        };
        let room = MAX_BODY - bytes.len();
        let take = (part.length() as usize).min(room);
        let start = bytes.len();
        if bytes.capacity() < start + take {
            // The first chunk is taken as it is (a token response is one small chunk); past it
            // the buffer goes straight to the cap: one reallocation, and wasm memory (which
            // never shrinks) grows by 1 MiB once instead of by a doubling chain.
            bytes.reserve_exact(if start == 0 { take } else { MAX_BODY - start });
        }
        bytes.resize(start + take, 0);
        part.subarray(0, take as u32).copy_to(&mut bytes[start..]);
        if part.length() as usize > room {
            // Over 1 MiB of decoded bytes: stop reading; keep the head for the error body.
            too_large = true;
            // On a character boundary: a character cut in half would decode to U+FFFD, and the
            // piece of a secret before it would no longer be seen as one (redaction treats the end
            // of a head as a cut, see `TextEnd::Cut`).
            let mut end = OVERSIZED_HEAD.min(bytes.len());
            while end > 0 && bytes.get(end).is_some_and(|b| b & 0xC0 == 0x80) {
                end -= 1;
            }
            bytes.truncate(end);
            chunks.stop();
            break;
        }
    }
    // Valid UTF-8 (the usual case) becomes the String without a copy.
    let text = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    let text = match text.strip_prefix('\u{FEFF}') {
        Some(rest) => rest.to_owned(),
        None => text,
    };
    Ok((text, too_large))
}

/// A look-alike with no body stream: its `text()`, whole (README: this path has no bound; only
/// what crosses into wasm is bounded).
async fn read_text(res: &LooseResponse, cancel: &Cancel) -> Result<(String, bool), Broken> {
    let promise = res
        .text()
        .map(|p| Promise::resolve(&p))
        .map_err(|_| Broken::Unreadable)?;
    let text = settled(cancel, promise, Stage::ReadingBody).await?;
    let Some(js_text) = text.dyn_ref::<js_sys::JsString>() else {
        return Ok((String::new(), false));
    };
    if js_text.length() as usize > MAX_BODY {
        // Only the head crosses into wasm, for the error body; not ending in half a surrogate
        // pair (it would decode to U+FFFD, see above).
        let mut end = OVERSIZED_HEAD as u32;
        if (55296.0..56320.0).contains(&js_text.char_code_at(end - 1)) {
            end -= 1;
        }
        return Ok((String::from(js_text.slice(0, end)), true));
    }
    Ok((String::from(js_text), false))
}

/// The platform parses; serde-wasm-bindgen reads the parsed value into the core's types.
pub fn parse(text: &str) -> BodyShape {
    if text.trim().is_empty() {
        return BodyShape::NotJson;
    }
    match js::json_parse(text) {
        Err(_) => BodyShape::NotJson,
        Ok(value) if value.is_object() && !js_sys::Array::is_array(&value) => {
            match serde_wasm_bindgen::from_value::<WireBody>(value) {
                Ok(body) => BodyShape::Object(body),
                Err(_) => BodyShape::NotJson,
            }
        }
        Ok(_) => BodyShape::OtherJson,
    }
}
