// ApiException: the one error type of avito-auth. The Rust crate imports this class
// (`#[wasm_bindgen(module = "/js/exception.js")]`) and constructs it with the fields of a
// failure that it has already redacted; every runtime entry re-exports this very class, so
// `err instanceof ApiException` holds for what the crate throws.
const KINDS = ["oauth", "http", "invalid_response", "network", "timeout", "aborted", "invalid_argument", "store"];

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
    // An OAuth "invalid_grant": the code or refresh token is dead; the user must sign in again.
    this.signInRequired = fields.signInRequired === true || (this.kind === "oauth" && this.error === "invalid_grant");
  }
  toJSON() {
    const { name, kind, message, status, error, errorDescription, retryable, retryAfterMs, body, signInRequired } = this;
    return { name, kind, message, status, error, errorDescription, retryable, retryAfterMs, body, signInRequired };
  }
}
