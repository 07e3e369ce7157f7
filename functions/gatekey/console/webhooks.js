// The Webhooks page: where the organisation's events are delivered; adding one shows its signing secret once.

import { api, eventTypes, showError } from "./api.js";
import { signedInPage, start } from "./layout.js";
import { confirmAction, fillTable, h, Pager, showSecretDialog, time, whileBusy } from "./widgets.js";

const PAGE_SIZE = 50;
const errorRegion = document.getElementById("error");
const notice = document.getElementById("notice");
const table = document.getElementById("webhooks");
const empty = document.getElementById("empty");
const form = document.getElementById("add-form");
const addError = document.getElementById("add-error");
const typeBoxes = document.getElementById("event-types");

start(async () => {
  await signedInPage();
  typeBoxes.replaceChildren(
    ...(await eventTypes()).map((type) =>
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "event", value: type }), ` ${type}`),
    ),
  );
  const every = form.elements.every;
  const chooseEvery = () => {
    for (const box of typeBoxes.querySelectorAll("input")) box.disabled = every.checked;
  };
  every.addEventListener("change", chooseEvery);
  chooseEvery();

  const columns = [
    { label: "URL", cell: (hook) => h("code", { class: "path" }, hook.url) },
    { label: "Events", cell: (hook) => (hook.events.includes("*") ? "every event" : hook.events.join(", ")) },
    { label: "Added", cell: (hook) => time(hook.created_at) },
    {
      label: "Actions",
      cell: (hook) =>
        h(
          "button",
          { type: "button", class: "danger", onclick: () => remove(hook) },
          h("span", {}, "Delete"),
          h("span", { class: "visually-hidden" }, ` ${hook.url}`),
        ),
    },
  ];
  const pager = new Pager(document.getElementById("pager"), async (cursor) => {
    const page = await api("GET", "/v1/webhooks", { query: { limit: PAGE_SIZE, cursor } });
    empty.textContent = "No webhooks yet: add one below to receive your organisation's events.";
    fillTable(table, page.data, columns, empty);
    return page.next_cursor;
  });
  const reload = () => pager.first().catch((error) => showError(errorRegion, error));
  await pager.first();

  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    await whileBusy(form, async () => {
      const url = form.elements.url.value.trim();
      const events = every.checked ? ["*"] : [...typeBoxes.querySelectorAll("input:checked")].map((box) => box.value);
      if (!url || !events.length) {
        addError.textContent = !url ? "Fill in the URL." : "Choose at least one event, or every event.";
        addError.hidden = false;
        (url ? every : form.elements.url).focus();
        return;
      }
      let created;
      try {
        created = await api("POST", "/v1/webhooks", { body: { url, events } });
      } catch (error) {
        showError(addError, error);
        return;
      }
      showError(addError, null);
      form.reset();
      chooseEvery();
      await reload();
      await showSecretDialog({
        title: "Webhook added",
        intro: `Events go to ${created.url}. Check each delivery's Gatekey-Signature with this secret.`,
        secret: created.secret,
        name: "secret",
      });
      form.elements.url.focus();
    });
  });

  async function remove(hook) {
    const sure = await confirmAction({
      title: "Delete this webhook?",
      text: `No further event is delivered to ${hook.url}.`,
      confirm: "Yes, delete",
    });
    if (!sure) return;
    try {
      await api("DELETE", `/v1/webhooks/${encodeURIComponent(hook.id)}`);
      notice.textContent = `The webhook to ${hook.url} is deleted.`;
      notice.hidden = false;
      await reload();
    } catch (error) {
      showError(errorRegion, error);
    }
  }
});
