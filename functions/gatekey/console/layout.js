// The frame of every signed-in page: who is signed in, the navigation, "Sign out", and what only admins see.

import { api, rememberOrg, showError } from "./api.js";
import { h, wireCloseButtons } from "./widgets.js";

const PAGES = [
  { page: "keys", href: "index.html", title: "API keys" },
  { page: "users", href: "users.html", title: "Users" },
  { page: "logs", href: "logs.html", title: "Request logs" },
  { page: "usage", href: "usage.html", title: "Usage" },
  { page: "webhooks", href: "webhooks.html", title: "Webhooks" },
  { page: "events", href: "events.html", title: "Events" },
];

// Draws the frame, then resolves to the signed-in person ({ user, org, isAdmin }). Elements marked
// data-admin-only are shown to admins alone (the API refuses the others anyway).
export async function signedInPage() {
  const current = document.body.dataset.page;
  const header = document.getElementById("top");
  const me = await api("GET", "/v1/me");
  rememberOrg(me.org.id);
  const isAdmin = me.user?.role === "admin";
  const signOutError = h("p", { class: "error", role: "alert", hidden: true });
  const signOut = h(
    "button",
    { type: "button", class: "sign-out", onclick: () => endSession(me.org.id, signOutError) },
    "Sign out",
  );
  header.replaceChildren(
    h(
      "div",
      { class: "top-bar" },
      h(
        "a",
        { class: "brand", href: "index.html" },
        h("img", { src: "logo.svg", alt: "", width: 24, height: 24 }),
        "Gatekey",
      ),
      h(
        "div",
        { class: "who" },
        h("span", { class: "org" }, me.org.name),
        me.user ? h("span", { class: "muted" }, `${me.user.email} (${me.user.role})`) : null,
        signOut,
      ),
    ),
    h(
      "nav",
      { "aria-label": "Console" },
      h(
        "ul",
        {},
        PAGES.map((entry) =>
          h(
            "li",
            {},
            h("a", { href: entry.href, "aria-current": entry.page === current ? "page" : false }, entry.title),
          ),
        ),
      ),
    ),
    signOutError,
  );
  for (const element of document.querySelectorAll("[data-admin-only]")) element.hidden = !isAdmin;
  wireCloseButtons();
  return { user: me.user, org: me.org, isAdmin };
}

async function endSession(orgId, errorRegion) {
  try {
    await api("DELETE", "/v1/sessions/current", { signedOutIsAnError: true });
  } catch (error) {
    if (error.status !== 401) {
      showError(errorRegion, error);
      return;
    }
  }
  const signIn = new URL("signin.html", window.location.href);
  signIn.searchParams.set("org", orgId);
  signIn.searchParams.set("signed_out", "1");
  window.location.replace(signIn);
}

// Runs a page's start: a failure before anything could be shown is said in the page's first alert region.
// The page's content shows once its controls work, so that nothing can be clicked before it does anything.
export async function start(page) {
  try {
    await page();
  } catch (error) {
    if (error.status === 401) return; // on the way to the sign-in page
    const region = document.querySelector("main [role=alert]");
    if (region) showError(region, error);
  }
  document.body.classList.add("ready");
}
