// The Events page: the organisation's events of the last 30 days, by type, paged.

import { api, eventTypes, showError } from "./api.js";
import { signedInPage, start } from "./layout.js";
import { fillTable, h, Pager, time } from "./widgets.js";

const PAGE_SIZE = 50;
const errorRegion = document.getElementById("error");
const filters = document.getElementById("filters");
const table = document.getElementById("events");
const empty = document.getElementById("empty");

const columns = [
  { label: "Time", cell: (event) => time(event.created_at) },
  { label: "Type", cell: (event) => h("code", {}, event.type) },
  { label: "About", cell: (event) => about(event.data) },
  {
    label: "Data",
    cell: (event) => h("details", {}, h("summary", {}, "Show data"), h("pre", {}, JSON.stringify(event.data, null, 2))),
  },
];

start(async () => {
  await signedInPage();
  const typeField = filters.elements.type;
  typeField.append(...(await eventTypes()).map((type) => h("option", { value: type }, type)));
  typeField.value = new URLSearchParams(window.location.search).get("type") ?? "";

  const pager = new Pager(document.getElementById("pager"), async (cursor) => {
    showError(errorRegion, null);
    const type = typeField.value;
    const page = await api("GET", "/v1/events", { query: { type, limit: PAGE_SIZE, cursor } });
    empty.textContent = type
      ? `No ${type} event in the last 30 days. Choose "Every type" to see the others.`
      : "No events yet: creating, rotating or revoking a key, or adding a user, records one.";
    fillTable(table, page.data, columns, empty);
    return page.next_cursor;
  });
  typeField.addEventListener("change", () => {
    window.history.replaceState(
      null,
      "",
      typeField.value ? `?type=${encodeURIComponent(typeField.value)}` : window.location.pathname,
    );
    pager.first().catch((error) => showError(errorRegion, error));
  });
  await pager.first();
});

// A line on what the event is about: the key, user or connection its data names.
function about(data) {
  const parts = [];
  if (data.label) parts.push(`"${data.label}"`);
  const id = data.id ?? data.key_id ?? data.user_id;
  if (typeof id === "string") {
    parts.push(
      id.startsWith("key_")
        ? h("a", { href: `key.html?id=${encodeURIComponent(id)}` }, h("code", {}, id))
        : h("code", {}, id),
    );
  }
  if (data.email) parts.push(data.email);
  if (!parts.length) return h("span", { class: "muted" }, "—");
  return h("span", {}, ...parts.flatMap((part, index) => (index ? [" ", part] : [part])));
}
