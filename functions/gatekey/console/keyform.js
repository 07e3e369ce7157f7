// The key settings both the "Create key" form and a key's page edit: permissions grid, expiry, allowlist, rotation.

import { api } from "./api.js";
import { h, isoToLocalInput, localInputToIso } from "./widgets.js";

const LEVELS = ["read", "write"];

// One row per resource of the catalog (GET /v1/permissions): a choice of none, read and, where the resource
// allows it, write.
export async function drawPermissionGrid(container, granted = {}) {
  const catalog = (await api("GET", "/v1/permissions")).data;
  container.replaceChildren(
    ...catalog.map((resource) => {
      const id = `permission-${resource.resource}`;
      const levels = ["none", ...LEVELS.slice(0, LEVELS.indexOf(resource.max_level) + 1)];
      const select = h(
        "select",
        { id, name: `permission:${resource.resource}`, "aria-describedby": `${id}-about` },
        levels.map((level) =>
          h("option", { value: level, selected: (granted[resource.resource] ?? "none") === level }, level),
        ),
      );
      return h(
        "div",
        { class: "permission" },
        h("label", { for: id }, resource.resource),
        select,
        h("span", { class: "hint", id: `${id}-about` }, resource.description),
      );
    }),
  );
}

export function readPermissions(form) {
  const permissions = {};
  for (const field of form.elements) {
    if (field.name?.startsWith("permission:") && field.value !== "none") {
      permissions[field.name.slice("permission:".length)] = field.value;
    }
  }
  return permissions;
}

export function readAllowlist(textarea) {
  return textarea.value
    .split(/[\s,]+/)
    .map((entry) => entry.trim())
    .filter(Boolean);
}

export function readExpiry(input) {
  return localInputToIso(input.value);
}

export function showExpiry(input, iso) {
  input.value = isoToLocalInput(iso);
}

// A rotation policy needs a key whose secret Gatekey can reveal after rotating it: HMAC or recoverable.
export function wireRotation(form, { revealable }) {
  const rotate = form.elements.rotate;
  const details = [form.elements.interval_days, form.elements.grace_period_seconds];
  const update = () => {
    const allowed = revealable();
    rotate.disabled = !allowed;
    if (!allowed) rotate.checked = false;
    for (const field of details) field.disabled = !rotate.checked;
  };
  form.addEventListener("change", update);
  update();
  return update;
}

export function readRotation(form) {
  if (!form.elements.rotate.checked) return null;
  return {
    interval_days: Number.parseInt(form.elements.interval_days.value, 10),
    grace_period_seconds: Number.parseInt(form.elements.grace_period_seconds.value || "0", 10),
  };
}

// Who a key's created_by names: a user (by name, "you" for the reader) or an API key (by label when known).
export function creatorName(createdBy, { me, users, keyLabels = new Map() }) {
  if (me?.id === createdBy) return "you";
  const user = users.get(createdBy);
  if (user) return user.name || user.email;
  if (!createdBy.startsWith("key_")) return createdBy;
  const label = keyLabels.get(createdBy);
  return h("span", { title: createdBy }, label ? `the key "${label}"` : "an API key");
}

// The org's users by id, for naming creators and owners; empty when the reader may not list them.
export async function usersById() {
  const users = new Map();
  try {
    let cursor = null;
    do {
      const page = await api("GET", "/v1/users", { query: { limit: 200, cursor } });
      for (const user of page.data) users.set(user.id, user);
      cursor = page.next_cursor;
    } while (cursor);
  } catch (error) {
    if (error.status === 401) throw error;
  }
  return users;
}
