// An invitation link's page: the token comes in the URL's fragment (never sent to a server by the browser);
// the person sets a password with it and goes on to sign in with their organisation.

import { api, rememberOrg, showError } from "./api.js";
import { whileBusy } from "./widgets.js";

const MIN_LENGTH = 12;
const MAX_LENGTH = 128;
const form = document.getElementById("accept");
const errorRegion = document.getElementById("error");
const token = new URLSearchParams(window.location.hash.slice(1)).get("token");

// The token leaves the address bar and the history entry at once: it is a one-use credential.
window.history.replaceState(null, "", window.location.pathname + window.location.search);

if (!token) {
  fail("This page needs the whole invitation link: open the link you were sent, or ask an admin for a new one.");
  for (const field of form.elements) field.disabled = true;
} else {
  form.elements.password.focus();
}

form.addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  const password = form.elements.password.value;
  if (password.length < MIN_LENGTH || password.length > MAX_LENGTH) {
    fail(`The password must be ${MIN_LENGTH} to ${MAX_LENGTH} characters long; this one has ${password.length}.`);
    form.elements.password.focus();
    return;
  }
  if (form.elements.confirmation.value !== password) {
    fail("The confirmation is not the same as the password. Type the password again in both fields.");
    form.elements.confirmation.value = "";
    form.elements.confirmation.focus();
    return;
  }
  await whileBusy(form, async () => {
    let accepted;
    try {
      accepted = await api("POST", "/v1/invitations/accept", { body: { token, password }, signedOutIsAnError: true });
    } catch (error) {
      showError(errorRegion, error);
      return;
    }
    rememberOrg(accepted.org_id);
    const signIn = new URL("signin.html", window.location.href);
    signIn.searchParams.set("org", accepted.org_id);
    signIn.searchParams.set("invited", "1");
    window.location.replace(signIn);
  });
});

function fail(text) {
  errorRegion.textContent = text;
  errorRegion.hidden = false;
}
