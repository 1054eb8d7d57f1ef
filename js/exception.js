// ApiException: the one error type of avito-auth. The Rust crate imports this class
// (`#[wasm_bindgen(module = "/js/exception.js")]`) and constructs it with the fields of a
// failure that it has already redacted; every runtime entry re-exports this very class, so
// `err instanceof ApiException` holds for what the crate throws.

// Readable errors: a failure built while the caller is on the stack (a sync call) keeps the frames
// after the crate's own; an async method's failure gets the awaiting caller's (withCallerStack).
const FROM_CRATE = Symbol("avito-auth.fromCrate");
// The crate's frames above the caller's (this snippet's, wasm frames, the glue's method) where a
// failure is built during a call, captured beyond Error.stackTraceLimit.
const FAILURE_FRAMES = 12;
// A wasm frame as V8 (`wasm://wasm/…:wasm-function[681]`), JSC (`at unknown`, or
// `wasm-function[681]@[wasm code]`) and SpiderMonkey (`…:wasm-function[681]:0x…`) print it.
const WASM_FRAME = /wasm-function\[|wasm:\/\/|\[wasm code\]|^\s*at unknown$/;
const fileOf = (frame) => /(?:\(|at |@)([^()\s@]+?):\d+:\d+\)?$/.exec(frame)?.[1];

/**
 * The frames after the crate's own, as "\n    at …" lines. A stack captured from the crate reads
 * [this snippet's frames, wasm frames…, the glue's exported method (not always shown), caller, …].
 * The glue is this file (bundles) or avito_auth.js beside snippets/ (the package as shipped).
 * undefined when the shape is not recognised.
 */
function callerFrames(stack) {
  if (typeof stack !== "string") return undefined;
  const frames = stack.split("\n").filter((l) => /^\s*at |@/.test(l));
  let i = frames.findIndex((l) => WASM_FRAME.test(l));
  const snippet = fileOf(frames[0] ?? "");
  if (i < 1 || snippet === undefined) return undefined;
  while (i < frames.length && WASM_FRAME.test(frames[i])) i++;
  const glue = [snippet, snippet.replace(/([\\/])snippets[\\/][^\\/]+[\\/]js[\\/]exception\.js$/, "$1avito_auth.js")];
  if (glue.includes(fileOf(frames[i] ?? ""))) i++;
  const kept = frames.slice(i, i + (Number(Error.stackTraceLimit) || 10));
  return kept.length ? `\n${kept.join("\n")}` : undefined;
}

/** Runs `capture` with room for `extra` frames of the crate; a frozen Error is left alone. */
function withRoom(extra, capture) {
  const limit = Error.stackTraceLimit;
  let raised = false;
  try {
    if (typeof limit === "number") (Error.stackTraceLimit = limit + extra), (raised = true);
  } catch {}
  try {
    return capture();
  } finally {
    if (raised) try { Error.stackTraceLimit = limit; } catch {}
  }
}

/**
 * Called by the crate with the promise an async method returns: the same outcome, and an
 * ApiException it rejects with gets the awaiting caller's frames (`at async checkCredentials
 * (app.mjs:6:3)`). The exception is built in a microtask, where the stack holds only the
 * executor's frames; here, resumed after the await, the engine's async stack trace (V8, JSC) leads
 * through the caller's await: its `at async` frames are kept. Nothing is captured unless the call
 * fails (a stack captured at every call cost about 38 µs of a 150 µs in-memory call, README
 * "Performance"). A `.then()` chain has no async frames: the stack is then the message alone, as
 * with fetch.
 */
export async function withCallerStack(promise) {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof ApiException && Error.stackTraceLimit !== 0 && typeof Error.captureStackTrace === "function") {
      try {
        Error.captureStackTrace(error, withCallerStack);
        // Below this frame runs only the runtime's microtask loop (Node's processTicksAndRejections):
        // the async frames are the callers'. The header is skipped by length, so that a message
        // (server text) cannot pass for a frame.
        const head = `${error.name}: ${error.message}`;
        const stack = String(error.stack);
        const frames = stack.startsWith(head) ? stack.slice(head.length).split("\n").filter((l) => /^\s*at async /.test(l)) : [];
        error.stack = `${head}${frames.map((l) => `\n${l}`).join("")}`;
      } catch {} // a frozen exception keeps the stack it has
    }
    throw error;
  }
}

/** Called by the crate: a new ApiException whose top frame is this readable line. */
export function apiException(kind, message, fields) {
  return withRoom(FAILURE_FRAMES, () => new ApiException(kind, message, { ...fields, [FROM_CRATE]: true }));
}

const KINDS = ["oauth", "http", "invalid_response", "network", "timeout", "aborted", "invalid_argument", "store", "sign_in_required"];

export class ApiException extends Error {
  /**
   * @param {string} kind one of KINDS (anything else reads as "invalid_argument")
   * @param {string} message what happened; never a secret
   * @param {object} [fields] status, error, errorDescription, retryable, retryAfterMs, body, signInRequired
   */
  constructor(kind, message, fields = {}) {
    super(message || kind);
    this.name = "ApiException";
    this.kind = KINDS.includes(kind) ? kind : "invalid_argument";
    this.status = fields.status;
    this.error = fields.error;
    this.errorDescription = fields.errorDescription;
    this.retryable = fields.retryable === true;
    this.retryAfterMs = fields.retryAfterMs;
    this.body = fields.body;
    // The server refused the code or refresh token ("invalid_grant"), or none usable remains
    // ("sign_in_required"): the user must sign in again.
    this.signInRequired = fields.signInRequired === true || this.kind === "sign_in_required" || (this.kind === "oauth" && this.error === "invalid_grant");
    // Built by the crate (apiException below): keep only the frames after the crate's own.
    if (fields[FROM_CRATE] === true) {
      const frames = callerFrames(this.stack);
      if (frames !== undefined) this.stack = `${this.name}: ${this.message}${frames}`;
    }
  }
  toJSON() {
    const { name, kind, message, status, error, errorDescription, retryable, retryAfterMs, body, signInRequired } = this;
    return { name, kind, message, status, error, errorDescription, retryable, retryAfterMs, body, signInRequired };
  }
}
