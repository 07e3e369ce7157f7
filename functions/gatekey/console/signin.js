// Sign-in: organisation, email and password make a session (an HttpOnly cookie the page never sees).

import { api, lastOrg, rememberOrg, showError } from "./api.js";
import { formValues, whileBusy } from "./widgets.js";

const form = document.getElementById("sign-in");
const errorRegion = document.getElementById("error");
const notice = document.getElementById("notice");
const query = new URLSearchParams(window.location.search);

form.elements.org_id.value = query.get("org") ?? lastOrg();
if (query.has("invited")) say("Your password is set. Sign in with it.");
else if (query.has("signed_out")) say("You are signed out.");
(form.elements.org_id.value ? form.elements.email : form.elements.org_id).focus();

form.addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  const values = formValues(form);
  const missing = ["org_id", "email", "password"].find((name) => !values[name]);
  if (missing) {
    const label = form.querySelector(`label[for=${form.elements[missing].id}]`).textContent;
    showError(errorRegion, null);
    errorRegion.textContent = `Fill in ${label}.`;
    errorRegion.hidden = false;
    form.elements[missing].focus();
    return;
  }
  await whileBusy(form, async () => {
    try {
      await api("POST", "/v1/sessions", {
        body: { org_id: values.org_id, email: values.email, password: form.elements.password.value },
        signedOutIsAnError: true,
      });
    } catch (error) {
      form.elements.password.value = "";
      showError(errorRegion, error);
      form.elements.password.focus();
      return;
    }
    rememberOrg(values.org_id);
    window.location.assign(nextPage());
  });
});

function say(text) {
  notice.textContent = text;
  notice.hidden = false;
}

// Back to the console page that sent the person here: only a page of this console, never another site's.
function nextPage() {
  const home = new URL("index.html", window.location.href);
  const next = query.get("next");
  if (!next) return home;
  const target = new URL(next, window.location.href);
  const consoleRoot = new URL("./", window.location.href);
  const ours = target.origin === consoleRoot.origin && target.pathname.startsWith(consoleRoot.pathname);
  return ours && !target.pathname.endsWith("/signin.html") ? target : home;
}
