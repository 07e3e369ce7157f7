// The Users page: the organisation's people; admins invite (a user, then a one-use link) and remove them.

import { api, showError } from "./api.js";
import { signedInPage, start } from "./layout.js";
import {
  confirmAction,
  fillTable,
  formValues,
  h,
  openDialog,
  Pager,
  showSecretDialog,
  time,
  whileBusy,
} from "./widgets.js";

const PAGE_SIZE = 50;
const errorRegion = document.getElementById("error");
const notice = document.getElementById("notice");
const table = document.getElementById("users");
const empty = document.getElementById("empty");
const dialog = document.getElementById("invite-dialog");
const form = document.getElementById("invite-form");
const inviteError = document.getElementById("invite-error");

start(async () => {
  const me = await signedInPage();
  const columns = [
    { label: "Name", cell: (user) => (user.id === me.user?.id ? `${user.name} (you)` : user.name) },
    { label: "Email", cell: (user) => user.email },
    { label: "Role", cell: (user) => user.role },
    { label: "Added", cell: (user) => time(user.created_at) },
  ];
  if (me.isAdmin) columns.push({ label: "Actions", cell: (user) => actionsFor(user, me) });

  const pager = new Pager(document.getElementById("pager"), async (cursor) => {
    const page = await api("GET", "/v1/users", { query: { limit: PAGE_SIZE, cursor } });
    empty.textContent = me.isAdmin ? "No users yet: Invite the people who manage keys with you." : "No users to show.";
    fillTable(table, page.data, columns, empty);
    return page.next_cursor;
  });
  const reload = () => pager.first().catch((error) => showError(errorRegion, error));
  await pager.first();

  document.getElementById("invite").addEventListener("click", () => {
    showError(inviteError, null);
    openDialog(dialog);
  });
  dialog.addEventListener("close", () => form.reset());
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    await whileBusy(form, () => invite(reload));
  });

  // Each button's name says whom it is for ("Remove mia@example.com"); one's own row has none.
  function actionsFor(user, viewer) {
    if (user.id === viewer.user?.id) return h("span", { class: "muted" }, "—");
    return h(
      "div",
      { class: "row-actions" },
      h(
        "button",
        { type: "button", onclick: () => newLink(user) },
        "New link",
        h("span", { class: "visually-hidden" }, ` for ${user.email}`),
      ),
      h(
        "button",
        { type: "button", class: "danger", onclick: () => remove(user, reload) },
        "Remove",
        h("span", { class: "visually-hidden" }, ` ${user.email}`),
      ),
    );
  }
});

async function invite(reload) {
  const values = formValues(form);
  const missing = !values.email ? "email" : !values.name ? "name" : null;
  if (missing) {
    inviteError.textContent = missing === "email" ? "Fill in their Email." : "Fill in their Name.";
    inviteError.hidden = false;
    form.elements[missing].focus();
    return;
  }
  let user;
  try {
    user = await api("POST", "/v1/users", { body: { email: values.email, name: values.name, role: values.role } });
  } catch (error) {
    showError(inviteError, error);
    return;
  }
  dialog.close();
  await reload();
  await newLink(user, true);
}

// An invitation link for `user`: shown once, to be sent to them by the admin.
async function newLink(user, justAdded = false) {
  showError(errorRegion, null);
  let invitation;
  try {
    invitation = await api("POST", `/v1/users/${encodeURIComponent(user.id)}/invitation`);
  } catch (error) {
    showError(errorRegion, error);
    if (justAdded) say(`${user.email} was added, but no invitation link could be made: use "New link" to try again.`);
    return;
  }
  await showSecretDialog({
    title: justAdded ? `${user.name} is invited` : `New invitation link for ${user.name}`,
    intro: `Send this link to ${user.email}. It works once, until ${new Date(invitation.expires_at).toLocaleString()}.`,
    secret: invitation.invitation_url,
    name: "link",
    note: "Anyone with this link can set this user's password: send it only to them. Gatekey shows it only now.",
  });
  document.getElementById("invite").focus();
}

async function remove(user, reload) {
  showError(errorRegion, null);
  let count;
  try {
    count = await activeKeyCount(user.id);
  } catch (error) {
    showError(errorRegion, error);
    return;
  }
  const keys =
    count === 0
      ? "They have no active key."
      : `Their ${activeKeys(count)} ${count === 1 ? "is" : "are"} revoked and deleted with them.`;
  const sure = await confirmAction({
    title: `Remove ${user.name}?`,
    text: `${user.email} can no longer sign in. ${keys} This cannot be undone.`,
    confirm: "Yes, remove",
  });
  if (!sure) return;
  try {
    await api("DELETE", `/v1/users/${encodeURIComponent(user.id)}`);
    say(`${user.name} (${user.email}) was removed${count ? `, with ${activeKeys(count)}` : ""}.`);
    await reload();
  } catch (error) {
    showError(errorRegion, error);
  }
}

function activeKeys(count) {
  return `${count} active key${count === 1 ? "" : "s"}`;
}

async function activeKeyCount(userId) {
  let count = 0;
  let cursor = null;
  do {
    const page = await api("GET", "/v1/keys", { query: { user_id: userId, status: "active", limit: 200, cursor } });
    count += page.data.length;
    cursor = page.next_cursor;
  } while (cursor);
  return count;
}

function say(text) {
  notice.textContent = text;
  notice.hidden = false;
}
