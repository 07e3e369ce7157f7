// The API keys page: the keys the reader may see, filtered and paged, and the "Create key" form.

import { api, showError } from "./api.js";
import {
  creatorName,
  drawPermissionGrid,
  readAllowlist,
  readExpiry,
  readPermissions,
  readRotation,
  usersById,
  wireRotation,
} from "./keyform.js";
import { signedInPage, start } from "./layout.js";
import {
  fillTable,
  formValues,
  h,
  openDialog,
  Pager,
  showSecretDialog,
  statusBadge,
  time,
  whileBusy,
} from "./widgets.js";

const PAGE_SIZE = 25;
const errorRegion = document.getElementById("error");
const filters = document.getElementById("filters");
const table = document.getElementById("keys");
const empty = document.getElementById("empty");
const dialog = document.getElementById("create-dialog");
const form = document.getElementById("create-form");
const createError = document.getElementById("create-error");

start(async () => {
  const me = await signedInPage();
  const users = me.isAdmin ? await usersById() : new Map();
  const context = { me: me.user, users, keyLabels: new Map() };
  const query = new URLSearchParams(window.location.search);
  filters.elements.type.value = me.isAdmin ? (query.get("type") ?? "") : "";
  filters.elements.status.value = query.get("status") ?? "";

  const columns = [
    { label: "Label", cell: (key) => h("a", { href: `key.html?id=${encodeURIComponent(key.id)}` }, key.label) },
    { label: "Type", cell: (key) => `${key.type}${key.auth_mode === "hmac" ? " (HMAC)" : ""}` },
    { label: "Hint", cell: (key) => h("code", {}, key.hint) },
    { label: "Creator", cell: (key) => creatorName(key.created_by, context) },
    { label: "Created", cell: (key) => time(key.created_at) },
    { label: "Last used", cell: (key) => time(key.last_used_at) },
    { label: "Expires", cell: (key) => time(key.expires_at) },
    { label: "Status", cell: (key) => statusBadge(key.status) },
  ];

  const pager = new Pager(document.getElementById("pager"), async (cursor) => {
    showError(errorRegion, null);
    const chosen = formValues(filters);
    const page = await api("GET", "/v1/keys", { query: { ...chosen, limit: PAGE_SIZE, cursor } });
    for (const key of page.data) context.keyLabels.set(key.id, key.label);
    fillTable(table, page.data, columns, emptyState(chosen));
    return page.next_cursor;
  });

  const reload = () => pager.first().catch((error) => showError(errorRegion, error));
  filters.addEventListener("change", () => {
    const chosen = new URLSearchParams(Object.entries(formValues(filters)).filter(([, value]) => value));
    window.history.replaceState(null, "", chosen.size ? `?${chosen}` : window.location.pathname);
    reload();
  });
  await pager.first();

  document.getElementById("create-key").addEventListener("click", () => openCreateForm(me, users));
  const updateRotation = wireRotation(form, {
    revealable: () => form.elements.auth_mode.value === "hmac" || form.elements.recoverable.checked,
  });
  form.elements.type.forEach((radio) => radio.addEventListener("change", () => showOwnerField(me)));
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    await whileBusy(form, () => createKey(me, reload));
  });
  dialog.addEventListener("close", () => {
    form.reset();
    updateRotation();
    showError(createError, null);
  });

  function emptyState(chosen) {
    if (chosen.type || chosen.status) {
      return fillEmpty("No keys match these filters. ", h("a", { href: "index.html" }, "Show every key"));
    }
    return fillEmpty("No keys yet: ", h("strong", {}, "Create key"), " above makes your first one.");
  }
});

function fillEmpty(...content) {
  empty.replaceChildren(...content);
  return empty;
}

async function openCreateForm(me, users) {
  showError(createError, null);
  openDialog(dialog);
  try {
    await drawPermissionGrid(document.getElementById("permissions"));
  } catch (error) {
    showError(createError, error);
  }
  const owner = form.elements.user_id;
  owner.replaceChildren(
    h("option", { value: "" }, `Me (${me.user?.email ?? "this session"})`),
    ...[...users.values()]
      .filter((user) => user.id !== me.user?.id)
      .map((user) => h("option", { value: user.id }, `${user.name} (${user.email})`)),
  );
  showOwnerField(me);
}

function showOwnerField(me) {
  document.getElementById("owner-field").hidden = !(me.isAdmin && form.elements.type.value === "personal");
}

async function createKey(me, reload) {
  const values = formValues(form);
  if (!values.label) {
    showError(createError, null);
    createError.textContent = "Give the key a label: it says what the key is for.";
    createError.hidden = false;
    form.elements.label.focus();
    return;
  }
  const type = me.isAdmin ? form.elements.type.value : "personal";
  const body = {
    label: values.label,
    type,
    auth_mode: form.elements.auth_mode.value,
    permissions: readPermissions(form),
    expires_at: readExpiry(form.elements.expires),
    ip_allowlist: readAllowlist(form.elements.ip_allowlist),
    recoverable: form.elements.recoverable.checked,
    rotation: readRotation(form),
  };
  if (type === "personal" && values.user_id) body.user_id = values.user_id;
  let created;
  try {
    created = await api("POST", "/v1/keys", { body });
  } catch (error) {
    showError(createError, error);
    createError.scrollIntoView({ block: "nearest" });
    return;
  }
  dialog.close();
  await reload();
  const revealable = created.auth_mode === "hmac" || created.recoverable;
  await showSecretDialog({
    title: "Key created",
    intro: `"${created.label}" (${created.id}) is ready.`,
    secret: created.secret,
    name: "key",
    note: revealable
      ? "Copy the key now. It can be revealed again from the key's page."
      : "Copy the key now: Gatekey shows it only this once and cannot show it again.",
  });
  document.getElementById("create-key").focus();
}
