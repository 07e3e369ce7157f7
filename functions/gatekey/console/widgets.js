// The pieces every page builds with: elements, times, tables, paging, dialogs and secrets shown once.

// An element: h("a", { href: "x.html", class: "button" }, "text", otherElement). Text is always text, never HTML.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

// A time as the reader's clock shows it, the exact UTC instant on hover; `empty` when there is none.
export function time(iso, empty = "never") {
  if (!iso) return h("span", { class: "muted" }, empty);
  return h("time", { datetime: iso, title: iso }, DATE_TIME.format(new Date(iso)));
}

// The value of an <input type="datetime-local"> as an RFC 3339 UTC time (null when empty), and back.
export function localInputToIso(value) {
  return value ? new Date(value).toISOString().replace(/\.\d{3}Z$/, "Z") : null;
}

export function isoToLocalInput(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  const pad = (number) => String(number).padStart(2, "0");
  return (
    `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}` +
    `T${pad(moment.getHours())}:${pad(moment.getMinutes())}`
  );
}

export function statusBadge(status) {
  return h("span", { class: `badge badge-${status}` }, status);
}

// Fills a table's body: one row per item, one cell per column ({ label, cell(item) }); each cell carries its
// column's label so that narrow screens can show rows as cards. `empty` (a node) stands in for no rows.
export function fillTable(table, items, columns, empty) {
  const body = table.tBodies[0];
  body.replaceChildren(
    ...items.map((item) =>
      h(
        "tr",
        {},
        columns.map((column) => h("td", { "data-label": column.label }, column.cell(item))),
      ),
    ),
  );
  table.hidden = items.length === 0;
  empty.hidden = items.length !== 0;
}

// Paging through a listing with the API's opaque cursors: "Previous page" goes back along those seen.
export class Pager {
  constructor(nav, load) {
    this.load = load; // async (cursor) => next_cursor
    this.cursors = [null];
    this.next = null;
    this.previousButton = h("button", { type: "button", onclick: () => this.go(-1) }, "Previous page");
    this.nextButton = h("button", { type: "button", onclick: () => this.go(1) }, "Next page");
    this.position = h("span", { class: "muted" });
    nav.replaceChildren(this.previousButton, this.position, this.nextButton);
    nav.setAttribute("aria-label", "Pages");
  }

  async first() {
    this.cursors = [null];
    await this.show();
  }

  async go(step) {
    if (step > 0 && this.next) this.cursors.push(this.next);
    if (step < 0 && this.cursors.length > 1) this.cursors.pop();
    await this.show();
  }

  async show() {
    this.next = await this.load(this.cursors.at(-1));
    this.previousButton.disabled = this.cursors.length <= 1;
    this.nextButton.disabled = !this.next;
    this.position.textContent = `Page ${this.cursors.length}`;
    this.position.parentElement.hidden = this.cursors.length <= 1 && !this.next;
  }
}

// Opens a <dialog> modally. The browser focuses its first field (or the element marked autofocus), keeps
// focus inside, and closes it on Escape; closing gives focus back to what opened it.
export function openDialog(dialog) {
  if (!dialog.open) dialog.showModal();
  const first =
    dialog.querySelector("[autofocus]") ??
    dialog.querySelector("input:not([type=hidden]):not(:disabled), select, textarea, button");
  first?.focus();
}

export function wireCloseButtons(root = document) {
  for (const button of root.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }
}

// Asks before doing something that cannot be undone: resolves true when the person confirms.
export function confirmAction({ title, text, confirm, danger = true }) {
  const yes = h("button", { type: "submit", value: "yes", class: danger ? "danger" : "primary" }, confirm);
  const no = h("button", { type: "submit", value: "no", autofocus: true }, "Cancel");
  const heading = h("h2", { id: "confirm-title" }, title);
  const dialog = h(
    "dialog",
    { "aria-labelledby": "confirm-title", class: "confirm" },
    h("form", { method: "dialog" }, heading, h("p", {}, text), h("div", { class: "actions" }, yes, no)),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "yes");
    });
    openDialog(dialog);
  });
}

// A secret shown once: the value, a copy button and a warning. It lives only in this element (never in any
// browser storage); forget() empties it.
export function secretBox(value, { name = "secret", note } = {}) {
  const code = h("code", { class: "secret-value", tabindex: "0", "aria-label": `The ${name}` }, value);
  const status = h("span", { class: "copied", role: "status" });
  const copy = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(value);
          status.textContent = "Copied.";
        } catch {
          window.getSelection().selectAllChildren(code);
          status.textContent = "Selected: press Ctrl+C (⌘C on a Mac) to copy.";
        }
      },
    },
    `Copy ${name}`,
  );
  const box = h(
    "div",
    { class: "secret" },
    h("p", { class: "warning" }, note ?? `Copy the ${name} now: Gatekey shows it only this once.`),
    h("div", { class: "secret-row" }, code, copy),
    status,
  );
  box.forget = () => box.replaceChildren();
  return box;
}

// Reads a form's named fields as strings (checkboxes as booleans).
export function formValues(form) {
  const values = {};
  for (const field of form.elements) {
    if (!field.name) continue;
    values[field.name] = field.type === "checkbox" ? field.checked : field.value.trim();
  }
  return values;
}

// Runs `work` with the form's submit button disabled, so that a double click sends one request.
export async function whileBusy(form, work) {
  const buttons = [...form.querySelectorAll("button[type=submit], button:not([type])")];
  for (const button of buttons) button.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    for (const button of buttons) button.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

// A dialog that shows a secret once (a new key's token, a webhook's signing secret, an invitation link). Closing
// it forgets the secret: the page keeps no copy. Resolves when it is closed.
export function showSecretDialog({ title, intro, secret, name, note }) {
  const box = secretBox(secret, { name, note });
  const dialog = h(
    "dialog",
    { "aria-labelledby": "secret-title", class: "secret-dialog" },
    h("h2", { id: "secret-title" }, title),
    intro ? h("p", {}, intro) : null,
    box,
    h("form", { method: "dialog", class: "actions" }, h("button", { type: "submit", class: "primary" }, "Done")),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      box.forget();
      dialog.remove();
      resolve();
    });
    dialog.showModal();
    box.querySelector("button").focus();
  });
}
