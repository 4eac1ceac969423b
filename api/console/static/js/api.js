// The API client: every call carries the session's key as a Bearer token, and every error
// becomes an ApiError holding the service's own message (and, for a 409, its details).

const KEY = "tocsin.key";

export function getKey() { return sessionStorage.getItem(KEY) || ""; }
export function setKey(key) { sessionStorage.setItem(KEY, key); }
export function clearKey() { sessionStorage.removeItem(KEY); }

export function authHeaders() {
  const key = getKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.type = error.type || "http_error";
    this.details = error;
  }

  // What to show people: the service's message, and for a refused move what is allowed.
  explain() {
    const prefix = { 401: "Not signed in", 403: "Not allowed", 404: "Not found", 409: "Refused", 422: "Invalid" }[this.status];
    let text = prefix ? `${prefix} (${this.status}): ${this.message}` : `${this.status}: ${this.message}`;
    // A crisis' refusal says in its message what its alerts allow: it has no single state.
    if (this.status === 409 && Array.isArray(this.details.allowed) && this.details.current) {
      text += `\nAllowed from ${this.details.current}: ${this.details.allowed.join(", ") || "nothing"}`;
    }
    return text;
  }
}

export async function api(method, path, body) {
  const init = { method, headers: { ...authHeaders() } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, { error: { type: "unreachable", message: "the service does not answer (restarting?)" } });
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    if (response.status === 401) document.dispatchEvent(new CustomEvent("tocsin:unauthenticated"));
    throw new ApiError(response.status, data);
  }
  return data;
}

export const get = (path) => api("GET", path);
