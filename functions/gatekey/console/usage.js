// The Usage page (admins): the plan's limits, what was used of its quota this period, and the requests of each of
// the last 30 days. `?key_id=` shows the usage that key counts in: its own plan's, or its organisation's.

import { api } from "./api.js";
import { signedInPage, start } from "./layout.js";
import { fillTable, h } from "./widgets.js";

const keyId = new URLSearchParams(window.location.search).get("key_id") ?? "";
const NUMBER = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const PERCENT = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
// Where the quota's meter turns amber, then red (fractions of the quota).
const NEARLY_USED = 0.75;
const ALL_BUT_USED = 0.9;

start(async () => {
  await signedInPage();
  const [usage, key] = await Promise.all([
    api("GET", "/v1/usage", { query: { key_id: keyId } }),
    keyId ? api("GET", `/v1/keys/${encodeURIComponent(keyId)}`) : null,
  ]);
  if (key) drawKey(key, usage);
  if (!usage.plan) {
    document.getElementById("about").hidden = true;
    document.getElementById("no-plans").hidden = false;
    return;
  }
  drawPlan(usage.plan);
  if (usage.plan.quota && usage.period_start && usage.used !== null) drawPeriod(usage, usage.plan.quota);
  drawDaily(usage.daily);
});

// Whose usage this is: the key's own plan's, or its organisation's that it shares.
function drawKey(key, usage) {
  document.title = `Usage of ${key.label} · Gatekey`;
  const breadcrumb = document.getElementById("breadcrumb");
  breadcrumb.replaceChildren(h("a", { href: `key.html?id=${encodeURIComponent(key.id)}` }, key.label));
  breadcrumb.hidden = false;
  document.getElementById("about").textContent = usage.key_id
    ? `The key "${key.label}" has a plan of its own: these are its limits, and what it alone used of them.`
    : `The key "${key.label}" counts in your organisation's plan: these are the organisation's limits, and what ` +
      "all of its keys used of them.";
}

function drawPlan(plan) {
  drawDetails("plan", [
    ["Plan", h("strong", {}, plan.name)],
    ["Rate", `${count(plan.rate, "request")} per second`],
    ["Burst", `${count(plan.burst, "request")} at once`],
    [
      "Quota",
      plan.quota
        ? `${count(plan.quota.limit, "request")} per ${plan.quota.period}`
        : h("span", { class: "muted" }, "no quota: only the rate and the burst limit requests"),
    ],
  ]);
  document.getElementById("plan-section").hidden = false;
}

function drawPeriod(usage, quota) {
  const first = usage.period_start.slice(0, 10);
  const last = new Date(Date.parse(usage.period_end) - 1).toISOString().slice(0, 10);
  drawDetails("period", [
    [
      "Used",
      h(
        "div",
        { class: "quota-use" },
        `${count(usage.used, "request")} of ${NUMBER.format(quota.limit)} (${PERCENT.format(usage.used / quota.limit)})`,
        h("meter", {
          min: 0,
          max: quota.limit,
          value: usage.used,
          low: quota.limit * NEARLY_USED,
          high: quota.limit * ALL_BUT_USED,
          optimum: 0,
          "aria-label": "Share of the quota used",
        }),
      ),
    ],
    [
      "Remaining",
      usage.remaining > 0
        ? count(usage.remaining, "request")
        : "none: requests are refused (429) until the period ends",
    ],
    ["Period", first === last ? `${first} (UTC)` : `${first} to ${last} (UTC)`],
    ["Resets", h("time", { datetime: usage.period_end }, utcMinute(usage.period_end))],
  ]);
  document.getElementById("period-section").hidden = false;
}

// One row a day, newest first, each with a bar as long as its share of the busiest day (the number says it all
// to a screen reader; the bar is for the eye).
function drawDaily(daily) {
  const busiest = Math.max(1, ...daily.map((day) => day.requests));
  const total = daily.reduce((sum, day) => sum + day.requests, 0);
  const today = daily.at(-1)?.date;
  document.getElementById("daily-total").textContent = `${count(total, "request")} in all, per day in UTC.`;
  const columns = [
    {
      label: "Day (UTC)",
      cell: (day) => h("time", { datetime: day.date }, day.date === today ? `${day.date} (today)` : day.date),
    },
    {
      label: "Requests",
      cell: (day) =>
        h(
          "div",
          { class: "day-count" },
          h("span", {}, NUMBER.format(day.requests)),
          h("meter", { min: 0, max: busiest, value: day.requests, "aria-hidden": "true" }),
        ),
    },
  ];
  fillTable(document.getElementById("daily"), [...daily].reverse(), columns, document.getElementById("daily-empty"));
  document.getElementById("daily-section").hidden = false;
}

function drawDetails(id, rows) {
  document
    .getElementById(id)
    .replaceChildren(...rows.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function count(number, noun) {
  return `${NUMBER.format(number)} ${noun}${number === 1 ? "" : "s"}`;
}

// "2026-07-01 00:00 UTC"
function utcMinute(iso) {
  return `${new Date(iso).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
