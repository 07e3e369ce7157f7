// One key's page: its details, editing, "Rotate", "Reveal" (HMAC and recoverable keys) and "Revoke".

import { api, showError } from "./api.js";
import {
  creatorName,
  drawPermissionGrid,
  readAllowlist,
  readExpiry,
  readPermissions,
  readRotation,
  showExpiry,
  usersById,
  wireRotation,
} from "./keyform.js";
import { signedInPage, start } from "./layout.js";
import { confirmAction, h, openDialog, showSecretDialog, statusBadge, time, whileBusy } from "./widgets.js";

const keyId = new URLSearchParams(window.location.search).get("id") ?? "";
const errorRegion = document.getElementById("error");
const notice = document.getElementById("notice");
const editForm = document.getElementById("edit-form");
const editError = document.getElementById("edit-error");
const rotateDialog = document.getElementById("rotate-dialog");
const rotateForm = document.getElementById("rotate-form");
const rotateError = document.getElementById("rotate-error");
const buttons = {
  rotate: document.getElementById("rotate"),
  reveal: document.getElementById("reveal"),
  revoke: document.getElementById("revoke"),
};

start(async () => {
  const me = await signedInPage();
  const context = { me: me.user, users: me.isAdmin ? await usersById() : new Map(), orgPlan: me.org.plan };
  if (!keyId) {
    showError(errorRegion, null);
    errorRegion.textContent = "No key was named. Choose one from the list of API keys.";
    errorRegion.hidden = false;
    return;
  }
  let key = await api("GET", `/v1/keys/${encodeURIComponent(keyId)}`);
  context.keyLabels = await creatingKeyLabel(key.created_by);
  const revealable = () => key.auth_mode === "hmac" || key.recoverable;
  const updateRotation = wireRotation(editForm, { revealable });

  const show = async (current) => {
    key = current;
    document.title = `${key.label} · API keys · Gatekey`;
    document.getElementById("title").textContent = key.label;
    drawDetails(key, context);
    const active = key.status === "active";
    document.getElementById("key-actions").hidden = !active;
    buttons.reveal.hidden = !revealable();
    document.getElementById("edit-section").hidden = !active;
    document.getElementById("details-section").hidden = false;
    document.getElementById("logs-link").href = `logs.html?key_id=${encodeURIComponent(key.id)}`;
    // Usage is for admins to read, and only a deployment with plans has any (its orgs are then on one).
    document.getElementById("usage-link-line").hidden = !(me.isAdmin && (key.plan || me.org.plan));
    document.getElementById("usage-link").href = `usage.html?key_id=${encodeURIComponent(key.id)}`;
    editForm.elements.label.value = key.label;
    showExpiry(editForm.elements.expires, key.expires_at);
    editForm.elements.ip_allowlist.value = key.ip_allowlist.join("\n");
    editForm.elements.rotate.checked = Boolean(key.rotation);
    if (key.rotation) {
      editForm.elements.interval_days.value = key.rotation.interval_days;
      editForm.elements.grace_period_seconds.value = key.rotation.grace_period_seconds;
    }
    updateRotation();
    if (active) await drawPermissionGrid(document.getElementById("permissions"), key.permissions);
  };
  await show(key);

  editForm.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    await whileBusy(editForm, async () => {
      const label = editForm.elements.label.value.trim();
      if (!label) {
        editError.textContent = "The label cannot be empty.";
        editError.hidden = false;
        editForm.elements.label.focus();
        return;
      }
      try {
        const edited = await api("PATCH", `/v1/keys/${encodeURIComponent(key.id)}`, {
          body: {
            label,
            permissions: readPermissions(editForm),
            expires_at: readExpiry(editForm.elements.expires),
            ip_allowlist: readAllowlist(editForm.elements.ip_allowlist),
            rotation: readRotation(editForm),
          },
        });
        showError(editError, null);
        await show(edited);
        say("Changes saved.");
      } catch (error) {
        showError(editError, error);
      }
    });
  });

  buttons.rotate.addEventListener("click", () => {
    showError(rotateError, null);
    openDialog(rotateDialog);
  });
  rotateForm.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    await whileBusy(rotateForm, async () => {
      const grace = Number.parseInt(rotateForm.elements.grace_period_seconds.value, 10);
      let rotated;
      try {
        rotated = await api("POST", `/v1/keys/${encodeURIComponent(key.id)}/rotate`, {
          body: { grace_period_seconds: grace },
        });
      } catch (error) {
        showError(rotateError, error);
        return;
      }
      rotateDialog.close();
      const { secret, ...rest } = rotated;
      await show(rest);
      await showSecretDialog({
        title: "Key rotated",
        intro:
          grace > 0
            ? `The old secret keeps working for ${rotateForm.elements.grace_period_seconds.selectedOptions[0].text}.`
            : "The old secret has stopped working.",
        secret,
        name: "key",
      });
      buttons.rotate.focus();
    });
  });

  buttons.reveal.addEventListener("click", async () => {
    showError(errorRegion, null);
    try {
      const revealed = await api("POST", `/v1/keys/${encodeURIComponent(key.id)}/reveal`);
      await showSecretDialog({
        title: "The key",
        secret: revealed.secret,
        name: "key",
        note: "Keep it somewhere safe: anyone holding it can call the API as this key.",
      });
    } catch (error) {
      showError(errorRegion, error);
    }
    buttons.reveal.focus();
  });

  buttons.revoke.addEventListener("click", async () => {
    const sure = await confirmAction({
      title: "Revoke this key?",
      text: `"${key.label}" stops working at once, for every client that uses it. This cannot be undone.`,
      confirm: "Yes, revoke it",
    });
    if (!sure) {
      buttons.revoke.focus();
      return;
    }
    try {
      await show(await api("DELETE", `/v1/keys/${encodeURIComponent(key.id)}`));
      say("The key is revoked: requests made with it are refused from now on.");
    } catch (error) {
      showError(errorRegion, error);
    }
  });
});

// The label of the key that created this one, when the reader may see that key.
async function creatingKeyLabel(createdBy) {
  const labels = new Map();
  if (!createdBy.startsWith("key_")) return labels;
  try {
    labels.set(createdBy, (await api("GET", `/v1/keys/${encodeURIComponent(createdBy)}`)).label);
  } catch (error) {
    if (error.status === 401) throw error;
  }
  return labels;
}

function say(text) {
  notice.textContent = text;
  notice.hidden = false;
}

function drawDetails(key, context) {
  const owner = key.user_id ? creatorName(key.user_id, context) : "the organisation";
  const rows = [
    ["Status", statusBadge(key.status)],
    ["Id", h("code", {}, key.id)],
    ["Type", key.type === "main" ? "main (organisation)" : `${key.type}, of ${owner}`],
    ["Auth mode", key.auth_mode === "hmac" ? "HMAC-signed requests" : "Bearer"],
    ["Hint", h("code", {}, key.hint)],
    ["Permissions", permissionsText(key.permissions)],
    ...planRow(key, context.orgPlan),
    ["Creator", creatorName(key.created_by, context)],
    ["Created", time(key.created_at)],
    ["Last used", time(key.last_used_at)],
    ["Expires", time(key.expires_at)],
    ["IP allowlist", key.ip_allowlist.length ? key.ip_allowlist.join(", ") : "any address"],
    ["Recoverable", key.recoverable ? "yes" : "no"],
    [
      "Rotation",
      key.rotation
        ? `every ${key.rotation.interval_days} days, old secret valid ${key.rotation.grace_period_seconds} s`
        : "manual",
    ],
    ["Last rotated", time(key.rotated_at)],
  ];
  document
    .getElementById("details")
    .replaceChildren(...rows.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

// The plan the key's requests count against, when the deployment has plans: its own, or its organisation's.
function planRow(key, orgPlan) {
  if (key.plan) return [["Plan", `${key.plan} (its own)`]];
  if (orgPlan) return [["Plan", `Organisation's plan (${orgPlan})`]];
  return [];
}

function permissionsText(permissions) {
  const entries = Object.entries(permissions);
  if (!entries.length) return h("span", { class: "muted" }, "none");
  return entries.map(([resource, level]) => `${resource}: ${level}`).join(", ");
}
