// The Request logs page: the organisation's logged requests with the filters of the API (key, method, status,
// since, until), newest first, paged.

import { api, showError } from "./api.js";
import { signedInPage, start } from "./layout.js";
import { fillTable, h, isoToLocalInput, localInputToIso, Pager, time } from "./widgets.js";

const PAGE_SIZE = 50;
const FILTERS = ["key_id", "method", "status", "since", "until"];
const TIMES = new Set(["since", "until"]);
const errorRegion = document.getElementById("error");
const filters = document.getElementById("filters");
const table = document.getElementById("logs");
const empty = document.getElementById("empty");

const columns = [
  { label: "Time", cell: (entry) => time(entry.timestamp) },
  { label: "Method", cell: (entry) => h("code", {}, entry.method) },
  { label: "Path", cell: (entry) => h("code", { class: "path" }, entry.path) },
  {
    label: "Status",
    cell: (entry) => h("span", { class: `http http-${String(entry.status).charAt(0)}xx` }, String(entry.status)),
  },
  { label: "Latency", cell: (entry) => `${entry.latency_ms} ms` },
  { label: "IP", cell: (entry) => entry.ip },
  {
    label: "Key",
    cell: (entry) =>
      entry.key_id
        ? h("a", { href: `key.html?id=${encodeURIComponent(entry.key_id)}` }, h("code", {}, entry.key_id))
        : h("span", { class: "muted" }, "none"),
  },
];

start(async () => {
  await signedInPage();
  const query = new URLSearchParams(window.location.search);
  for (const name of FILTERS) {
    const value = query.get(name) ?? "";
    filters.elements[name].value = TIMES.has(name) ? isoToLocalInput(value) : value;
  }

  const pager = new Pager(document.getElementById("pager"), async (cursor) => {
    showError(errorRegion, null);
    const chosen = chosenFilters();
    const page = await api("GET", "/v1/logs", { query: { ...chosen, limit: PAGE_SIZE, cursor } });
    empty.textContent = Object.keys(chosen).length
      ? "No request matches these filters. Widen the times or clear the filters."
      : "No requests yet. Call your API with a key (see API keys): each request shows here a second later.";
    fillTable(table, page.data, columns, empty);
    return page.next_cursor;
  });
  const reload = () => pager.first().catch((error) => showError(errorRegion, error));

  filters.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const chosen = new URLSearchParams(chosenFilters());
    window.history.replaceState(null, "", chosen.size ? `?${chosen}` : window.location.pathname);
    reload();
  });
  filters.addEventListener("reset", () => {
    window.history.replaceState(null, "", window.location.pathname);
    setTimeout(reload); // after the browser has emptied the fields
  });
  document.getElementById("refresh").addEventListener("click", reload);
  await pager.first();
});

function chosenFilters() {
  const chosen = {};
  for (const name of FILTERS) {
    const raw = filters.elements[name].value.trim();
    if (!raw) continue;
    chosen[name] = TIMES.has(name) ? localInputToIso(raw) : raw;
    // The field has minutes only: "until 10:05" takes in the whole of that minute.
    if (name === "until" && /T\d\d:\d\d$/.test(raw)) chosen[name] = chosen[name].replace(/:00Z$/, ":59Z");
  }
  return chosen;
}
