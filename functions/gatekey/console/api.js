// Calls to Gatekey's management API, and its errors in words. Every page speaks to the API through here.

const CONSOLE_HEADER = { "X-Gatekey-Console": "1" };
const LAST_ORG = "gatekey.last-org"; // an org id, never a secret: it prefills the sign-in form

// The types of the events the API records and webhooks receive, as the API's own OpenAPI document lists them.
export async function eventTypes() {
  const document = await api("GET", "/v1/openapi.json");
  const parameter = document.paths["/v1/events"].get.parameters.find((candidate) => candidate.name === "type");
  const schemas = [parameter.schema, ...(parameter.schema.anyOf ?? [])];
  return schemas.flatMap((schema) => schema.enum ?? []);
}

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// A request to the API. `body` goes as JSON; `query` drops empty values. Resolves to the parsed JSON answer.
// A 401 means the session is over (or never began): the person is taken to the sign-in page, unless
// `signedOutIsAnError` asks for the error instead (the sign-in and invitation pages).
export async function api(method, path, { body, query, signedOutIsAnError = false } = {}) {
  const url = apiUrl(path);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { ...CONSOLE_HEADER, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "unreachable", "Gatekey could not be reached. Check your connection and try again.");
  }
  const answer = await response.json().catch(() => null);
  if (response.ok) return answer;
  const error = errorOf(response, answer);
  if (response.status === 401 && !signedOutIsAnError) {
    goToSignIn();
    throw error;
  }
  throw error;
}

// The console lives at <base>/dashboard/ and the API at <base>/v1/ (<base> is a deployed stage's /dev, say).
function apiUrl(path) {
  return new URL(`../${path.replace(/^\/+/, "")}`, window.location.href);
}

function errorOf(response, answer) {
  const retry = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  const detail = answer?.error;
  if (detail && typeof detail.message === "string") {
    return new ApiError(response.status, detail.code, detail.message, Number.isNaN(retry) ? null : retry);
  }
  // The gateway's own refusals are {"message": ...}.
  const message = typeof answer?.message === "string" ? answer.message : response.statusText;
  return new ApiError(response.status, `http_${response.status}`, message, Number.isNaN(retry) ? null : retry);
}

// Sentences for the codes a person meets in the console; any other error is the API's own message.
const SENTENCES = {
  unreachable: () => "Gatekey could not be reached. Check your connection and try again.",
  too_many_attempts: (error) =>
    error.retryAfter
      ? `Too many attempts. Try again in ${waitingTime(error.retryAfter)}.`
      : "Too many attempts. Wait a little and try again.",
  admin_required: () => "Only an admin of your organisation can do this.",
  key_limit_reached: (error) => `${sentence(error.message)} Revoke a key you no longer use, then try again.`,
  invitation_invalid: () =>
    "This invitation link is not valid any more: it was used already, has expired, or was copied incompletely. " +
    "Ask an admin of your organisation for a new one.",
  http_403: () => "You are not allowed to do this.",
  http_429: () => "Too many requests. Wait a little and try again.",
};

// What went wrong, as a sentence a person can act on.
export function describeError(error) {
  if (!(error instanceof ApiError)) return "Something went wrong in the console. Reload the page and try again.";
  const known = SENTENCES[error.code];
  if (known) return known(error);
  if (error.status >= 500) return `Gatekey could not do this just now (${error.status}). Try again in a moment.`;
  return sentence(error.message || `The request failed (${error.status}).`);
}

// Shows `error` in `region` (a role="alert" element), or clears the region when `error` is null.
export function showError(region, error) {
  region.textContent = error ? describeError(error) : "";
  region.hidden = !error;
}

function sentence(text) {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function waitingTime(seconds) {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}

export function rememberOrg(orgId) {
  try {
    window.localStorage.setItem(LAST_ORG, orgId);
  } catch {
    // storage may be off; the org is then typed again
  }
}

export function lastOrg() {
  try {
    return window.localStorage.getItem(LAST_ORG) ?? "";
  } catch {
    return "";
  }
}

// The sign-in page, coming back here afterwards. A console link may name the org (`?org=`, as `gatekey serve`
// prints it); else the last one signed in to on this browser fills the field.
export function goToSignIn() {
  const here = new URL(window.location.href);
  const org = here.searchParams.get("org") || lastOrg();
  here.searchParams.delete("org");
  const target = new URL("signin.html", here);
  if (org) target.searchParams.set("org", org);
  target.searchParams.set("next", here.pathname + here.search);
  window.location.replace(target);
}
