// The owner's page: entries, the review queue, imports, versions and insights, all through the
// admin API with the key from the sign-in form (kept in sessionStorage for this tab, never in a
// URL). Plain DOM code, no framework, no CDN; every text from the service is set as text.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY = "faqAdminKey";
// Where the FAQ's routes are: "" for the default FAQ, "/faqs/NAME" for another (from the page's
// own address, /faqs/NAME/admin; the key then decides: an owner key sees its own FAQ only, the
// service key picks any).
const FAQ_PATH = /^\/faqs\/([a-z0-9-]{1,64})\//;
let base = (location.pathname.match(FAQ_PATH) || ["", null])[0].replace(/\/$/, "");
let currentView = "entries";
let defaultFaq = null;  // its routes are the service's own (no /faqs/NAME)
let entriesCursor = null;
let lastPreview = null;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "text") node.textContent = value;
    else if (name === "on") for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function notice(text) {
  const banner = $("notice");
  banner.textContent = text;
  banner.hidden = !text;
}

async function api(method, path, { json, body, contentType, root } = {}) {
  const headers = { "X-API-Key": sessionStorage.getItem(KEY) || "" };
  let payload = body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(json);
  } else if (contentType) {
    headers["Content-Type"] = contentType;
  }
  const response = await fetch(root ? path : base + path, { method, headers, body: payload });
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (response.status === 401 || response.status === 403) {
    if (path !== "/admin/key") signOut(detail(data, response.status));
  }
  return { ok: response.ok, status: response.status, data };
}

function detail(data, status) {
  return data && typeof data.detail === "string" ? data.detail : `the service answered ${status}`;
}

// ---- signing in --------------------------------------------------------------------------------
async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  const { ok, status, data } = await api("GET", "/admin/key", { root: true });
  if (!ok || data.scope === "public") {
    sessionStorage.removeItem(KEY);
    $("signin-status").textContent = `Not signed in: ${
      ok ? "a public ask key cannot change the FAQ" : detail(data, status)}`;
    return;
  }
  if (data.scope === "owner") {
    base = `/faqs/${data.faq}`;  // an owner key: its own FAQ, whatever the address said
    $("faq-pick").hidden = true;
    showFaq(data.faq);
  } else {
    await loadFaqPicker();
  }
  $("signin-status").textContent = "";
  $("signin").hidden = true;
  $("console").hidden = false;
  showView("entries");
}

function showFaq(name) {
  $("faq-current").textContent = name ? `FAQ: ${name}` : "";
  $("asker-link").setAttribute("href", `${base}/`);
}

// The service key reaches every FAQ: a list to pick one from, the address's FAQ first chosen.
async function loadFaqPicker() {
  const { ok, data } = await api("GET", "/admin/faqs?limit=1000", { root: true });
  const pick = $("faq-pick");
  if (!ok) return;
  const current = (base.match(/^\/faqs\/(.+)$/) || [null, null])[1];
  pick.replaceChildren();
  for (const faq of data.faqs) {
    pick.append(el("option", { value: faq.name, text: `${faq.name} (${faq.entries} entries)` }));
  }
  defaultFaq = data.faqs.find((f) => f.default).name;
  const chosen = data.faqs.find((f) => f.name === current) || data.faqs.find((f) => f.default);
  pick.value = chosen.name;
  base = chosen.default ? "" : `/faqs/${chosen.name}`;
  pick.hidden = false;
  $("faq-current").textContent = "";
  $("asker-link").setAttribute("href", `${base}/`);
}

function pickFaq() {
  const name = $("faq-pick").value;
  base = name === defaultFaq ? "" : `/faqs/${name}`;
  $("asker-link").setAttribute("href", `${base}/`);
  showView(currentView);
}

function signOut(reason) {
  sessionStorage.removeItem(KEY);
  $("console").hidden = true;
  $("signin").hidden = false;
  $("signin-status").textContent = reason || "Signed out.";
  $("key").value = "";
  $("key").focus();
}

function showView(name) {
  currentView = name;
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${name}`;
  for (const button of document.querySelectorAll(".tabs [data-view]")) {
    if (button.dataset.view === name) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  notice("");
  ({ entries: loadEntries, review: loadReview, import: () => {}, versions: loadVersions, insights: loadInsights })[name](true);
}

// ---- entries -----------------------------------------------------------------------------------
async function loadSources() {
  const { ok, data } = await api("GET", "/sources");
  if (!ok) return;
  const select = $("entry-source");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "", text: "All sources" }));
  for (const item of data.sources) {
    select.append(el("option", { value: item.source, text: `${item.source} (${item.entries})` }));
  }
  select.value = chosen;
}

async function loadEntries(fresh) {
  if (fresh) {
    entriesCursor = null;
    $("entries-body").replaceChildren();
    loadSources();
  }
  const params = new URLSearchParams({ limit: "20" });
  if ($("entry-q").value.trim()) params.set("q", $("entry-q").value.trim());
  if ($("entry-source").value) params.set("source", $("entry-source").value);
  if (entriesCursor) params.set("cursor", entriesCursor);
  const { ok, status, data } = await api("GET", `/faq/entries?${params}`);
  if (!ok) return notice(`Entries not loaded: ${detail(data, status)}`);
  for (const entry of data.entries) {
    $("entries-body").append(
      el(
        "tr",
        { "data-id": entry.id },
        el("td", { text: entry.question }),
        el("td", { text: entry.source }),
        el("td", { text: String(entry.alternates.length) }),
        el(
          "td",
          {},
          el("button", { type: "button", class: "quiet", text: "Edit", on: { click: () => editEntry(entry) } }),
          el("button", { type: "button", class: "quiet danger", text: "Delete", on: { click: () => deleteEntry(entry) } }),
        ),
      ),
    );
  }
  if (!data.entries.length && fresh) $("entries-body").append(el("tr", {}, el("td", { colspan: "4", text: "No entries." })));
  entriesCursor = data.next_cursor;
  $("entries-more").hidden = !entriesCursor;
}

function editEntry(entry) {
  $("entry-form-title").textContent = "Edit the entry";
  $("entry-id").value = entry.id;
  $("entry-question").value = entry.question;
  $("entry-answer").value = entry.answer;
  $("entry-source-field").value = entry.source;
  $("entry-wordings").value = entry.alternates.join("\n");
  $("entry-follow-ups").value = (entry.follow_ups || []).map((f) => f.question).join("\n");
  $("entry-status").textContent = "";
  $("entry-question").focus();
}

function resetEntryForm() {
  $("entry-form").reset();
  $("entry-id").value = "";
  $("entry-form-title").textContent = "Add an entry";
}

async function saveEntry() {
  const lines = (id) => $(id).value.split("\n").map((line) => line.trim()).filter(Boolean);
  const fields = {
    question: $("entry-question").value,
    answer: $("entry-answer").value,
    source: $("entry-source-field").value,
    alternates: lines("entry-wordings"),
    follow_ups: lines("entry-follow-ups"),
  };
  const id = $("entry-id").value;
  const { ok, status, data } = id
    ? await api("PUT", `/faq/entries/${id}`, { json: fields })
    : await api("POST", "/faq/entries", { json: fields });
  if (!ok) {
    $("entry-status").textContent = `Not saved: ${detail(data, status)}`;
    return;
  }
  const warnings = (data.warnings || []).map((w) => w.message);
  $("entry-status").textContent = `Saved${warnings.length ? `, with a warning: ${warnings.join("; ")}` : "."}`;
  resetEntryForm();
  loadEntries(true);
}

async function deleteEntry(entry) {
  if (!window.confirm(`Delete "${entry.question}"?`)) return;
  const { ok, status, data } = await api("DELETE", `/faq/entries/${entry.id}`);
  if (!ok) return notice(`Not deleted: ${detail(data, status)}`);
  loadEntries(true);
}

// ---- the review queue ----------------------------------------------------------------------------
async function loadReview() {
  const { ok, status, data } = await api("GET", "/admin/review?limit=50");
  const list = $("review-list");
  list.replaceChildren();
  if (!ok) return notice(`Review queue not loaded: ${detail(data, status)}`);
  if (!data.items.length) list.append(el("li", { class: "message", text: "Nothing to review." }));
  const kinds = { unanswered: "Unanswered", picked_suggestion: "Picked after asking back", not_helpful: "Not helpful" };
  for (const item of data.items) {
    const answer = el("textarea", { rows: "2", "aria-label": "Answer of the new entry" });
    const actions = el("div", { class: "row wrap" });
    // No entry is close: creating one leads, adding it to an unrelated entry is secondary.
    const createFirst = item.suggested_action === "create_entry";
    for (const near of item.nearest) {
      actions.append(
        el("button", {
          type: "button",
          class: createFirst ? "add-wording quiet" : "add-wording",
          text: `Add as wording of: ${near.question}`,
          on: { click: () => act(item, { action: "add_wording", entry_id: near.id }) },
        }),
      );
    }
    actions.append(
      el("button", { type: "button", class: "quiet", text: "Dismiss", on: { click: () => act(item, { action: "dismiss" }) } }),
    );
    const create = el(
      "details",
      createFirst ? { open: "" } : {},
      el("summary", { text: createFirst ? "Create an entry (no entry is close)" : "Create an entry" }),
      answer,
      el("button", {
        type: "button",
        text: "Create",
        on: { click: () => act(item, { action: "create_entry", answer: answer.value }) },
      }),
    );
    list.append(
      el(
        "li",
        { class: "card", "data-id": item.id },
        el("p", { class: "meta", text: `${kinds[item.kind] || item.kind} · asked ${item.count}×` }),
        el("ul", {}, ...item.examples.map((q) => el("li", { text: q }))),
        ...(createFirst ? [create, actions] : [actions, create]),
      ),
    );
  }
}

async function act(item, body) {
  const { ok, status, data } = await api("POST", `/admin/review/${item.id}`, { json: body });
  $("review-status").textContent = ok
    ? body.action === "dismiss"
      ? "Dismissed."
      : `Done: ${data.entry.question}`
    : `Not done: ${detail(data, status)}`;
  if (ok) loadReview();
}

// ---- import --------------------------------------------------------------------------------------
function importParams(dryRun) {
  const file = $("import-file").files[0];
  const params = new URLSearchParams({ mode: $("import-mode").value, dry_run: String(dryRun) });
  const format = formatOf(file.name);
  if (format) params.set("format", format);
  if ($("import-stage").checked) params.set("stage", "true");
  return params;
}

function formatOf(name) {
  const extension = name.toLowerCase().split(".").pop();
  return { csv: "csv", tsv: "tsv", xlsx: "xlsx", json: "json", jsonl: "jsonl", html: "html", htm: "html", md: "markdown" }[extension] || "";
}

function showReport(report, applied) {
  const box = $("import-report");
  const counts = ["added", "changed", "removed", "unchanged"].map((k) => `${report[k]} ${k}`).join(", ");
  const title = applied ? `Imported: ${counts}` : `Preview (nothing written yet): ${counts}`;
  box.replaceChildren(
    el("p", { class: "counts", text: title }),
    ...(report.job ? [el("p", { text: `Reindex job ${report.job.id} started${report.job.status === "running" ? "" : `: ${report.job.status}`}.` })] : []),
    ...(report.errors.length ? [el("h3", { text: "Errors (nothing will be written)" }), el("ul", {}, ...report.errors.map((e) => el("li", { text: `${e.where}: ${e.problem}` })))] : []),
    ...(report.warnings.length ? [el("h3", { text: "Warnings" }), el("ul", {}, ...report.warnings.map((w) => el("li", { text: w.message })))] : []),
    ...((report.ignored_columns || []).length ? [el("h3", { text: "Columns not read" }), el("ul", {}, ...report.ignored_columns.map((c) => el("li", { text: c })))] : []),
  );
}

async function previewImport() {
  const file = $("import-file").files[0];
  if (!file) return;
  const { ok, status, data } = await api("POST", `/admin/import?${importParams(true)}`, { body: await file.arrayBuffer(), contentType: "application/octet-stream" });
  if (!ok) {
    $("import-report").replaceChildren(el("p", { text: `Not read: ${detail(data, status)}` }));
    $("import-apply").disabled = true;
    return;
  }
  lastPreview = file;
  showReport(data, false);
  $("import-apply").disabled = data.errors.length > 0;
}

async function applyImport() {
  const file = $("import-file").files[0];
  if (!file || file !== lastPreview) return previewImport();
  const { ok, status, data } = await api("POST", `/admin/import?${importParams(false)}`, { body: await file.arrayBuffer(), contentType: "application/octet-stream" });
  $("import-apply").disabled = true;
  if (!ok && !data.added && data.added !== 0) {
    $("import-report").replaceChildren(el("p", { text: `Not imported: ${detail(data, status)}` }));
    return;
  }
  showReport(data, ok);
  if (data.job) await waitForJob(data.job, (text) => $("import-report").append(el("p", { text })));
}

async function waitForJob(job, say) {
  while (job.status === "running") {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { ok, data } = await api("GET", `/admin/reindex/${job.id}`);
    if (!ok) break;
    job = data;
  }
  say(job.status === "succeeded" ? `Version ${job.report.version} built${job.report.staged ? " and staged" : " and live"}.` : `The job failed: ${job.error}`);
  return job;
}

// ---- versions and the test set ----------------------------------------------------------------
async function loadVersions() {
  const { ok, status, data } = await api("GET", "/admin/versions");
  if (!ok) return notice(`Versions not loaded: ${detail(data, status)}`);
  const body = $("versions-body");
  const select = $("test-version");
  body.replaceChildren();
  select.replaceChildren();
  for (const version of data.versions) {
    const state = version.live ? "live" : version.staged ? "staged" : "kept";
    const forced = version.activated && version.activated.forced ? " (forced)" : "";
    const test = version.test ? `${version.test.right}/${version.test.total} right` : "not tested";
    body.append(
      el(
        "tr",
        { "data-name": version.name },
        el("td", { text: version.name }),
        el("td", { text: `${version.created || "?"} (${version.origin})` }),
        el("td", { text: String(version.entries) }),
        el("td", { class: `state ${state}`, text: state + forced }),
        el("td", { text: test }),
        el("td", {}, version.live ? "" : el("button", { type: "button", class: "activate", text: version.staged ? "Publish" : "Roll back to this", on: { click: () => activate(version.name, false) } })),
      ),
    );
    select.append(el("option", { value: version.name, text: `${version.name}${version.live ? " (live)" : ""}` }));
  }
}

async function activate(name, force) {
  const { ok, status, data } = await api("POST", `/admin/versions/${name}/activate${force ? "?force=true" : ""}`);
  const line = $("versions-status");
  if (status === 409 && data.version) {
    line.replaceChildren(
      `Refused: ${data.detail} `,
      el("button", { type: "button", class: "danger", text: "Activate anyway", on: { click: () => activate(name, true) } }),
    );
    return;
  }
  line.textContent = ok ? `${name} is live.` : `Not activated: ${detail(data, status)}`;
  loadVersions();
}

async function runTestSet() {
  const file = $("test-file").files[0];
  if (!file) return;
  const params = new URLSearchParams({ version: $("test-version").value });
  const format = formatOf(file.name);
  if (format) params.set("format", format);
  $("test-report").textContent = "Running...";
  const { ok, status, data } = await api("POST", `/admin/test?${params}`, { body: await file.arrayBuffer(), contentType: "application/octet-stream" });
  if (!ok) {
    $("test-report").textContent = `Not run: ${detail(data, status)}`;
    return;
  }
  const misses = data.results.filter((r) => r.outcome === "wrong" || r.outcome === "declined");
  $("test-report").replaceChildren(
    el("p", { class: "counts", text: `${data.version}: ${data.right} right, ${data.clarified} asked back, ${data.wrong} wrong, ${data.declined} declined (of ${data.total})` }),
    el("ul", {}, ...misses.map((r) => el("li", { text: `${r.outcome}: ${r.question} (expected ${r.expected_question}, got ${r.top_question || r.status})` }))),
  );
  loadVersions();
}

async function stageReindex() {
  const file = $("stage-file").files[0];
  if (!file) return;
  const params = new URLSearchParams({ stage: "true" });
  const format = formatOf(file.name);
  if (format) params.set("format", format);
  const say = (text) => { $("stage-status").textContent = text; };
  const { ok, status, data } = await api("POST", `/admin/reindex?${params}`, { body: await file.arrayBuffer(), contentType: "application/octet-stream" });
  if (!ok) return say(`Not started: ${detail(data, status)}`);
  say("Building...");
  await waitForJob(data, say);
  loadVersions();
}

// ---- insights ------------------------------------------------------------------------------------
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

function chart(days) {
  const width = 640;
  const height = 180;
  const top = Math.max(1, ...days.map((d) => d.asks));
  const step = width / Math.max(1, days.length);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height + 20}`, role: "img", class: "chart" });
  root.append(Object.assign(svg("title", {}), { textContent: `Questions a day over ${days.length} days` }));
  days.forEach((day, i) => {
    let y = height;
    for (const [key, css] of [["answered", "answered"], ["clarify", "clarify"], ["no_answer", "declined"]]) {
      const h = (day[key] / top) * (height - 10);
      y -= h;
      const bar = svg("rect", { x: String(i * step + 1), y: String(y), width: String(Math.max(1, step - 2)), height: String(h), class: css });
      bar.append(Object.assign(svg("title", {}), { textContent: `${day.date}: ${day[key]} ${key.replace("_", " ")}` }));
      root.append(bar);
    }
  });
  root.append(Object.assign(svg("text", { x: "0", y: String(height + 16), class: "axis" }), { textContent: days[0].date }));
  root.append(Object.assign(svg("text", { x: String(width), y: String(height + 16), class: "axis", "text-anchor": "end" }), { textContent: days[days.length - 1].date }));
  return root;
}

async function loadInsights() {
  const { ok, status, data } = await api("GET", `/admin/insights?days=${$("insights-days").value}`);
  if (!ok) return notice(`Insights not loaded: ${detail(data, status)}`);
  const total = data.days.reduce((sum, d) => sum + d.asks, 0);
  $("insights-chart").replaceChildren(
    chart(data.days),
    el("p", { class: "legend", text: `${total} questions: ` },
      el("span", { class: "key answered", text: "answered" }), " ",
      el("span", { class: "key clarify", text: "asked back" }), " ",
      el("span", { class: "key declined", text: "declined" })),
  );
  $("insights-top").replaceChildren(...data.top_entries.map((e) => el("li", { text: `${e.question || "(deleted entry)"}: ${e.asks}` })));
  $("insights-unanswered").replaceChildren(...data.unanswered.map((u) => el("li", { text: `${u.question}: ${u.count}` })));
  const named = (question) => question || "(deleted entry)";
  $("insights-next").replaceChildren(
    ...(data.next_steps || []).map((step) =>
      el("li", { text: `after "${named(step.question)}": ${step.next.map((n) => `${named(n.question)} (${n.count})`).join(", ")}` })),
  );
  loadRule();
  $("insights-feedback").replaceChildren(
    ...data.feedback.map((f) => el("tr", {}, el("td", { text: f.question }), el("td", { text: String(f.helpful) }), el("td", { text: String(f.not_helpful) }))),
  );
}

// ---- the decision rule ----------------------------------------------------------------------------
function ruleText(rule) {
  return rule ? `answer when the score is at least ${rule.answer_score.toFixed(3)} and leads the next answer by ${rule.answer_margin.toFixed(3)}` : "none yet (nothing indexed)";
}

async function loadRule() {
  const { ok, status, data } = await api("GET", "/admin/rule");
  if (!ok) return notice(`Decision rule not loaded: ${detail(data, status)}`);
  const change = data.from_askers;
  $("rule-now").replaceChildren(
    el("dt", { text: "Now" }), el("dd", { text: ruleText(data.rule) }),
    el("dt", { text: "Fitted to the FAQ" }), el("dd", { text: ruleText(data.faq_rule) }),
    ...(data.previous ? [el("dt", { text: "Before" }), el("dd", { text: ruleText(data.previous) })] : []),
  );
  $("rule-learnt").textContent = change
    ? `Learnt from ${change.labels} labelled questions of ${change.clients} askers (${change.at}): ${change.reason}.`
    : "Nothing learnt from askers yet: the rule is the FAQ's own.";
  $("rule-undo").hidden = !change;
}

async function undoRule() {
  const { ok, status, data } = await api("POST", "/admin/rule/undo");
  $("rule-status").textContent = ok ? "Undone: the FAQ's own rule is back." : `Not undone: ${detail(data, status)}`;
  loadRule();
}

document.addEventListener("DOMContentLoaded", () => {
  $("rule-undo").addEventListener("click", undoRule);
  $("signin").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("key").value);
  });
  $("signout").addEventListener("click", () => signOut("Signed out."));
  $("faq-pick").addEventListener("change", pickFaq);
  for (const button of document.querySelectorAll(".tabs [data-view]")) {
    button.addEventListener("click", () => showView(button.dataset.view));
  }
  $("entry-search").addEventListener("submit", (event) => { event.preventDefault(); loadEntries(true); });
  $("entry-source").addEventListener("change", () => loadEntries(true));
  $("entries-more").addEventListener("click", () => loadEntries(false));
  $("entry-form").addEventListener("submit", (event) => { event.preventDefault(); saveEntry(); });
  $("entry-cancel").addEventListener("click", resetEntryForm);
  $("import-form").addEventListener("submit", (event) => { event.preventDefault(); previewImport(); });
  $("import-apply").addEventListener("click", applyImport);
  $("import-file").addEventListener("change", () => { $("import-apply").disabled = true; });
  $("test-form").addEventListener("submit", (event) => { event.preventDefault(); runTestSet(); });
  $("stage-form").addEventListener("submit", (event) => { event.preventDefault(); stageReindex(); });
  $("insights-days").addEventListener("change", () => loadInsights());
  if (sessionStorage.getItem(KEY)) signIn(sessionStorage.getItem(KEY));
});
