// The FAQ widget: a launcher and a panel that answer from a FAQ of this service, on any page.
//
//   <script src="https://FAQ-HOST/widget.js" data-faq="NAME" data-key="PUBLIC_KEY" async></script>
//
// Options, all optional: data-faq (the FAQ; none: the service's default one), data-key (a
// public key of the FAQ: a closed FAQ needs one), data-title, data-placeholder, data-color (a
// CSS colour for the launcher and buttons), data-position ("right" or "left"), data-lang (the
// language of its few labels: en, de, fr, es, nl), data-mode ("inline": the panel fills its
// page, as the embed page uses it). The widget lives in a closed shadow root: the page's styles
// do not reach it and its own do not leak out. After each answer shown it sends the page a
// "faq-widget:answer" event ({status, took_ms}). Plain DOM code, no dependency.
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script) return;
  const data = script.dataset;
  const service = new URL(script.src, location.href).origin;
  const faq = /^[a-z0-9-]{1,64}$/.test(data.faq || "") ? data.faq : "";
  const base = service + (faq ? `/faqs/${faq}` : "");
  const key = data.key || "";
  const inline = data.mode === "inline";
  const left = data.position === "left";
  const colour = /^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}|rgb\([\d\s,.%]+\))$/.test(data.color || "") ? data.color : "#1d4ed8";

  const LABELS = {
    en: { title: "Questions?", open: "Open the FAQ", close: "Close", ask: "Ask", placeholder: "Type your question",
      question: "Your question", mean: "Did you mean:", none: "Sorry, I don't know that one.", related: "Related:",
      next: "Next questions:", helpful: "Was this helpful?", yes: "Yes", no: "No", thanks: "Thanks!",
      error: "The answer could not be fetched. Try again in a moment.", busy: "Looking it up…" },
    de: { title: "Fragen?", open: "FAQ öffnen", close: "Schließen", ask: "Fragen", placeholder: "Ihre Frage",
      question: "Ihre Frage", mean: "Meinten Sie:", none: "Dazu weiß ich leider nichts.", related: "Verwandt:",
      next: "Weitere Fragen:", helpful: "War das hilfreich?", yes: "Ja", no: "Nein", thanks: "Danke!",
      error: "Die Antwort konnte nicht geladen werden. Bitte gleich noch einmal.", busy: "Einen Moment…" },
    fr: { title: "Des questions ?", open: "Ouvrir la FAQ", close: "Fermer", ask: "Demander", placeholder: "Votre question",
      question: "Votre question", mean: "Vouliez-vous dire :", none: "Désolé, je ne sais pas.", related: "Voir aussi :",
      next: "Questions suivantes :", helpful: "Cette réponse vous a-t-elle aidé ?", yes: "Oui", no: "Non",
      thanks: "Merci !", error: "Impossible d'obtenir la réponse. Réessayez dans un instant.", busy: "Recherche…" },
    es: { title: "¿Preguntas?", open: "Abrir las preguntas frecuentes", close: "Cerrar", ask: "Preguntar",
      placeholder: "Escribe tu pregunta", question: "Tu pregunta", mean: "¿Quisiste decir?", none: "Lo siento, no lo sé.",
      related: "Relacionadas:", next: "Siguientes preguntas:", helpful: "¿Te ha servido?", yes: "Sí", no: "No",
      thanks: "¡Gracias!", error: "No se pudo obtener la respuesta. Inténtalo de nuevo.", busy: "Buscando…" },
    nl: { title: "Vragen?", open: "FAQ openen", close: "Sluiten", ask: "Vragen", placeholder: "Typ je vraag",
      question: "Je vraag", mean: "Bedoelde je:", none: "Sorry, dat weet ik niet.", related: "Gerelateerd:",
      next: "Volgende vragen:", helpful: "Was dit nuttig?", yes: "Ja", no: "Nee", thanks: "Bedankt!",
      error: "Het antwoord kon niet worden opgehaald. Probeer het zo opnieuw.", busy: "Even zoeken…" },
  };
  const lang = (data.lang || document.documentElement.lang || "en").slice(0, 2).toLowerCase();
  const t = LABELS[lang] || LABELS.en;
  const title = data.title || t.title;

  const CSS = `
:host { all: initial; }
* { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
.launcher { position: fixed; bottom: 16px; ${left ? "left" : "right"}: 16px; z-index: 2147483000;
  border: 0; border-radius: 999px; padding: 12px 18px; background: var(--c); color: #fff; font-size: 16px;
  box-shadow: 0 4px 14px rgba(0,0,0,.25); cursor: pointer; }
.panel { position: fixed; bottom: 76px; ${left ? "left" : "right"}: 16px; z-index: 2147483000;
  width: min(380px, calc(100vw - 32px)); height: min(560px, calc(100vh - 100px)); display: flex;
  flex-direction: column; background: #fff; color: #111827; border: 1px solid #d1d5db; border-radius: 12px;
  box-shadow: 0 10px 30px rgba(0,0,0,.25); overflow: hidden; }
.panel[hidden] { display: none; }
.inline .panel { position: static; width: 100%; height: 100vh; border: 0; border-radius: 0; box-shadow: none; }
header { display: flex; align-items: center; justify-content: space-between; padding: 10px 14px;
  background: var(--c); color: #fff; }
h2 { margin: 0; font-size: 17px; font-weight: 600; }
.close { border: 0; background: transparent; color: #fff; font-size: 22px; line-height: 1; cursor: pointer; padding: 4px 8px; }
.log { flex: 1; overflow-y: auto; padding: 12px 14px; font-size: 15px; line-height: 1.45; }
.asked { margin: 10px 0 4px auto; max-width: 85%; width: fit-content; background: #eef2ff; color: #1e1b4b;
  border-radius: 10px; padding: 6px 10px; }
.reply { margin: 4px 0 10px; }
.reply p { margin: 4px 0; white-space: pre-wrap; }
.muted { color: #4b5563; font-size: 14px; }
.choices { list-style: none; margin: 4px 0; padding: 0; }
.choices button, .vote button { border: 1px solid var(--c); background: #fff; color: var(--c); border-radius: 8px;
  padding: 6px 10px; margin: 3px 0; font-size: 14px; text-align: left; cursor: pointer; }
.vote { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; }
form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e5e7eb; }
input { flex: 1; min-width: 0; border: 1px solid #6b7280; border-radius: 8px; padding: 9px 10px; font-size: 16px; color: #111827; }
.send { border: 0; border-radius: 8px; padding: 9px 14px; background: var(--c); color: #fff; font-size: 15px; cursor: pointer; }
button:focus-visible, input:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

  const host = document.createElement("div");
  host.setAttribute("data-faq-widget", faq || "default");
  const root = host.attachShadow({ mode: "closed" });
  if (root.adoptedStyleSheets !== undefined && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
    // A constructed sheet: allowed by a page's Content-Security-Policy, which may forbid inline <style>.
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } else {
    const style = document.createElement("style");
    style.textContent = CSS;
    root.appendChild(style);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else if (name === "on") for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
      else node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  const id = `faq-widget-${Math.random().toString(36).slice(2, 9)}`;
  const shell = el("div", { class: inline ? "inline" : "" });
  shell.style.setProperty("--c", colour);
  const log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": title });
  const input = el("input", { id: `${id}-q`, type: "text", maxlength: "2000", autocomplete: "off", placeholder: data.placeholder || t.placeholder });
  const send = el("button", { class: "send", type: "submit", text: t.ask });
  const form = el("form", { on: { submit: (event) => { event.preventDefault(); askQuestion(); } } },
    el("label", { class: "sr", for: `${id}-q`, text: t.question }), input, send);
  const close = el("button", { class: "close", type: "button", "aria-label": t.close, text: "×", on: { click: () => toggle(false) } });
  const panel = el("div", { class: "panel", id: `${id}-panel`, role: inline ? "region" : "dialog", "aria-label": title },
    el("header", {}, el("h2", { text: title }), inline ? "" : close), log, form);
  const launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": `${id}-panel`,
    "aria-label": t.open, text: title, on: { click: () => toggle(panel.hidden) } });
  if (inline) {
    shell.append(panel);
  } else {
    panel.hidden = true;
    shell.append(launcher, panel);
  }
  root.append(shell);
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !inline) toggle(false);
  });

  function toggle(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    (open ? input : launcher).focus();
  }

  async function call(path, body) {
    const headers = { "Content-Type": "application/json" };
    if (key) headers["X-API-Key"] = key;
    const response = await fetch(base + path, { method: "POST", headers, body: JSON.stringify(body), mode: "cors", credentials: "omit" });
    if (!response.ok) throw new Error(`status ${response.status}`);
    return response.json();
  }

  function choices(items, question, picked) {
    return el("ul", { class: "choices" }, ...items.map((item) => el("li", {},
      el("button", { type: "button", text: item.question, on: { click: () => {
        if (picked) call("/feedback", { question, entry_id: item.id, helpful: true, picked: true }).catch(() => {});
        chooseEntry(item, picked ? null : item.via || null);
      } } }))));
  }

  function vote(question, answerId) {
    const status = el("span", { class: "muted", role: "status" });
    const group = el("div", { class: "vote", role: "group", "aria-label": t.helpful }, el("span", { class: "muted", text: t.helpful }));
    for (const [label, helpful] of [[t.yes, true], [t.no, false]]) {
      group.append(el("button", { type: "button", text: label, on: { click: () => {
        group.querySelectorAll("button").forEach((b) => { b.disabled = true; });
        call("/feedback", { question, entry_id: answerId, helpful }).then(() => { status.textContent = t.thanks; }).catch(() => {});
      } } }));
    }
    group.append(status);
    return group;
  }

  function render(question, body) {
    const reply = el("div", { class: "reply", "data-status": body.status });
    if (body.status === "answered") {
      const answer = body.answers[0];
      reply.append(el("p", { class: "answer", text: answer.answer }), vote(question, answer.id));
      if (answer.follow_ups && answer.follow_ups.length) {
        reply.append(el("p", { class: "muted", text: t.next }),
          choices(answer.follow_ups.map((f) => ({ ...f, via: answer.id })), question, false));
      }
    } else if (body.status === "clarify") {
      reply.append(el("p", { text: t.mean }), choices(body.suggestions, question, true));
    } else {
      reply.append(el("p", { text: t.none }));
      if (body.suggestions.length) reply.append(el("p", { class: "muted", text: t.related }), choices(body.suggestions, question, false));
    }
    return reply;
  }

  async function exchange(shown, body) {
    log.append(el("p", { class: "asked", text: shown }));
    const waiting = el("p", { class: "muted", text: t.busy });
    log.append(waiting);
    log.scrollTop = log.scrollHeight;
    send.disabled = true;
    try {
      const answered = await call("/ask", body);
      waiting.replaceWith(render(shown, answered));
      // For the host page (its analytics, say): what was answered, after it is shown.
      host.dispatchEvent(new CustomEvent("faq-widget:answer", { bubbles: true, detail: { status: answered.status, took_ms: answered.took_ms } }));
    } catch (error) {
      waiting.replaceWith(el("p", { class: "reply", role: "alert", text: t.error }));
    } finally {
      send.disabled = false;
      log.scrollTop = log.scrollHeight;
    }
  }

  function askQuestion() {
    const question = input.value.trim();
    if (!question) return;
    input.value = "";
    exchange(question, { question, top_k: 3 });
  }

  function chooseEntry(item, via) {
    exchange(item.question, via ? { entry_id: item.id, via } : { entry_id: item.id });
  }

  const attach = () => document.body.appendChild(host);
  if (document.body) attach();
  else document.addEventListener("DOMContentLoaded", attach);
})();
