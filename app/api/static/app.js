// The FAQ page: asks /ask, shows answers or the "no confident answer" state, posts feedback.
// Plain DOM code, no framework and no CDN, so the page works wherever the service runs.
"use strict";

const $ = (id) => document.getElementById(id);
// The FAQ this page asks: the one in its address (/faqs/NAME/), else the service's default.
const BASE = (location.pathname.match(/^\/faqs\/[a-z0-9-]{1,64}(?=\/)/) || [""])[0];

function show(element, visible) {
  element.hidden = !visible;
}

function detailOf(body, status) {
  if (body && typeof body.detail === "string") return body.detail;
  return `the service answered ${status}`;
}

async function checkReady() {
  const banner = $("status");
  try {
    // A FAQ of its own: ready when its routes answer (/ready is about the default FAQ).
    const response = await fetch(BASE ? BASE + "/sources" : "/ready");
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      show(banner, false);
      return true;
    }
    const problems = (body.problems || []).join("; ") || body.detail || `status ${response.status}`;
    banner.textContent = `The service is not ready yet: ${problems}`;
  } catch (error) {
    banner.textContent = "The service cannot be reached.";
  }
  show(banner, true);
  return false;
}

async function loadSources() {
  try {
    const response = await fetch(BASE + "/sources");
    if (!response.ok) return;
    const body = await response.json();
    if (body.example_question) {
      // One of this FAQ's own questions shows what can be asked (not another FAQ's example).
      $("question").placeholder = `e.g. ${body.example_question}`;
    }
    const select = $("source");
    for (const item of body.sources) {
      const option = document.createElement("option");
      option.value = item.source;
      option.textContent = `${item.source} (${item.entries})`;
      select.appendChild(option);
    }
  } catch (error) {
    // Without sources the filter offers "All sources" only; asking still works.
  }
}

function clearResults() {
  $("answers").replaceChildren();
  $("suggestions").replaceChildren();
  $("related").replaceChildren();
  $("see-also").replaceChildren();
  show($("see-also-block"), false);
  show($("clarify"), false);
  show($("no-answer"), false);
  show($("related-block"), false);
  show($("message"), false);
}

function say(text) {
  const message = $("message");
  message.textContent = text;
  show(message, true);
}

async function sendFeedback(question, entryId, helpful, item) {
  const status = item.querySelector(".feedback-status");
  const buttons = item.querySelectorAll(".feedback button");
  buttons.forEach((button) => { button.disabled = true; });
  try {
    const response = await fetch(BASE + "/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question, entry_id: entryId, helpful }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(detailOf(body, response.status));
    }
    item.querySelector(helpful ? ".helpful" : ".not-helpful").setAttribute("aria-pressed", "true");
    status.textContent = "Thanks for the feedback.";
  } catch (error) {
    status.textContent = `Feedback not sent: ${error.message}`;
    buttons.forEach((button) => { button.disabled = false; });
  }
}

function renderAnswer(question, answer) {
  const item = $("answer-template").content.firstElementChild.cloneNode(true);
  item.dataset.entryId = answer.id;
  item.querySelector(".faq-question").textContent = answer.question;
  item.querySelector(".answer-text").textContent = answer.answer;
  item.querySelector(".source").textContent = answer.source || "faq";
  item.querySelector(".score").textContent = answer.score.toFixed(2);
  for (const button of item.querySelectorAll(".feedback button")) {
    button.addEventListener("click", () =>
      sendFeedback(question, answer.id, button.dataset.helpful === "true", item));
  }
  // The entries its owner offers next: chosen, each is answered as it is (and the path logged).
  const followUps = answer.follow_ups || [];
  const list = item.querySelector(".follow-up-list");
  for (const followUp of followUps) {
    const entry = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = followUp.question;
    button.addEventListener("click", () => {
      $("question").value = followUp.question;
      request({ entry_id: followUp.id, via: answer.id }, followUp.question);
    });
    entry.appendChild(button);
    list.appendChild(entry);
  }
  show(item.querySelector(".follow-ups"), followUps.length > 0);
  return item;
}

function renderSuggestion(asked, suggestion, picked) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = suggestion.question;
  button.addEventListener("click", () => {
    if (picked) {
      // "Did you mean" answered by the user: the owner's review queue offers their wording as
      // a wording of this entry. Fire and forget: the answer matters more than the record.
      fetch(BASE + "/feedback", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ question: asked, entry_id: suggestion.id, helpful: true, picked: true }),
      }).catch(() => {});
    }
    $("question").value = suggestion.question;
    ask();
  });
  item.appendChild(button);
  return item;
}

async function ask() {
  const question = $("question").value.trim();
  if (!question) {
    say("Type a question first.");
    return;
  }
  const payload = { question, top_k: 5 };
  const source = $("source").value;
  if (source) payload.source = source;
  await request(payload, question);
}

// One /ask (a question, or an entry chosen from the follow-ups) and its outcome on the page.
async function request(payload, question) {
  const results = $("results");
  const button = $("ask-button");
  clearResults();
  results.setAttribute("aria-busy", "true");
  button.disabled = true;
  try {
    const response = await fetch(BASE + "/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      say(`No answer: ${detailOf(body, response.status)}`);
      if (response.status === 503) checkReady();
      return;
    }
    // Three outcomes: an answer; "did you mean" (asking back) only when the service is
    // unsure between close entries; "no answer" (with related entries, if any) otherwise.
    if (body.status === "answered") {
      // The confident answer stands alone; other entries that also clear the bar are offered
      // as questions to open, not as answers that look like it.
      const [first, ...others] = body.answers;
      $("answers").replaceChildren(renderAnswer(question, first));
      $("see-also").replaceChildren(...others.map((s) => renderSuggestion(question, s, false)));
      show($("see-also-block"), others.length > 0);
    } else if (body.status === "clarify") {
      $("suggestions").replaceChildren(...body.suggestions.map((s) => renderSuggestion(question, s, true)));
      show($("clarify"), true);
    } else {
      $("related").replaceChildren(...body.suggestions.map((s) => renderSuggestion(question, s, false)));
      show($("related-block"), body.suggestions.length > 0);
      show($("no-answer"), true);
    }
  } catch (error) {
    say("The service cannot be reached.");
  } finally {
    results.setAttribute("aria-busy", "false");
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    ask();
  });
  checkReady();
  loadSources();
});
