"""The FAQ in Slack: what Slack sends is verified, and what the FAQ says is put in Block Kit.

- **Verified**: every request carries Slack's signature of its body (HMAC-SHA256 with the app's
  signing secret, checked by the Slack SDK's verifier) and a timestamp, refused when over five
  minutes off; a signature already seen in those five minutes is a replay, refused too.
- **Block Kit**: the three outcomes as Slack messages: the answer (with "helpful" buttons and
  the entry's follow-ups as buttons), "did you mean" (the closest questions as buttons), or
  "I don't know" (with related questions, if any). A button's value names the entry to answer
  when it is clicked, and where the click came from.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict

from slack_sdk.signature import SignatureVerifier

from app.search.answers import Answers, Hit

# Slack refuses a message's text over 3,000 characters in a section, a button's over 75 and its
# value over 2,000.
SECTION_CHARS = 2900
BUTTON_CHARS = 75
QUESTION_IN_VALUE = 1500
REPLAY_WINDOW_S = 5 * 60
MAX_SEEN = 50_000

ENTRY_ACTION = "faq_entry"
HELPFUL_ACTION = "faq_helpful"
NOT_HELPFUL_ACTION = "faq_not_helpful"


class SlackRequestRefused(Exception):
    """A request that is not Slack's, or is one Slack sent before: 401, nothing done."""


class SlackVerifier:
    """Slack's signature on each request, and each signature accepted once."""

    def __init__(self, signing_secret: str):
        self._verifier = SignatureVerifier(signing_secret)
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, body: bytes, timestamp: str | None, signature: str | None) -> None:
        """SlackRequestRefused unless `body` is signed by Slack within five minutes, first time."""
        try:
            valid = self._verifier.is_valid(body, timestamp, signature)
        except ValueError:  # a timestamp that is no number
            valid = False
        if not valid:
            raise SlackRequestRefused("not signed by Slack with this app's signing secret, or too old")
        now = time.monotonic()
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now - REPLAY_WINDOW_S:
                self._seen.popitem(last=False)
            if signature in self._seen:
                raise SlackRequestRefused("a request seen before (replayed)")
            self._seen[str(signature)] = now
            while len(self._seen) > MAX_SEEN:
                self._seen.popitem(last=False)


def _escaped(text: str) -> str:
    """Text as Slack's mrkdwn shows it literally (its three control characters escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _button(text: str, action: str, value: dict, *, primary: bool = False) -> dict:
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": _cut(text, BUTTON_CHARS), "emoji": False},
        "action_id": action,
        "value": json.dumps(value, separators=(",", ":")),
    }
    if primary:
        button["style"] = "primary"
    return button


def _entry_buttons(hits: list[tuple[str, str]], asked: str, *, picked: bool, via: str = "") -> dict:
    """Buttons that answer these entries ((id, question)) when clicked (at most Slack's 25)."""
    elements = []
    for n, (entry_id, question) in enumerate(hits[:25]):
        value: dict = {"e": entry_id}
        if picked:  # "did you mean": the click is also the asker's word for the entry
            value["p"], value["q"] = 1, asked[:QUESTION_IN_VALUE]
        if via:
            value["v"] = via
        elements.append({**_button(question, ENTRY_ACTION, value), "action_id": f"{ENTRY_ACTION}_{n}"})
    return {"type": "actions", "elements": elements}


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_CHARS)}}


def blocks_for(asked: str, result: Answers) -> tuple[str, list[dict]]:
    """The message for `result` (the answers to `asked`): its plain text (for notifications) and
    its blocks."""
    if result.answered:
        best: Hit = result.answers[0]
        blocks = [
            _section(_escaped(best.answer)),
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _cut(f"FAQ: {_escaped(best.question)}", 300)}],
            },
        ]
        if best.follow_ups:
            blocks.append(_section("*Next questions*"))
            blocks.append(_entry_buttons(list(best.follow_ups), asked, picked=False, via=best.id))
        feedback = {"e": best.id, "q": asked[:QUESTION_IN_VALUE]}
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    _button("Helpful", HELPFUL_ACTION, feedback, primary=True),
                    _button("Not helpful", NOT_HELPFUL_ACTION, feedback),
                ],
            }
        )
        return best.answer, blocks
    suggestions = [(h.id, h.question) for h in result.suggestions]
    if result.status == "clarify":
        return "Did you mean one of these?", [
            _section("I'm not sure. *Did you mean:*"),
            _entry_buttons(suggestions, asked, picked=True),
        ]
    blocks = [_section("Sorry, the FAQ does not answer that.")]
    if suggestions:
        blocks += [_section("Related questions:"), _entry_buttons(suggestions, asked, picked=False)]
    return "Sorry, the FAQ does not answer that.", blocks


def message(asked: str, result: Answers, *, ephemeral: bool = True) -> dict:
    """A slash command's (or response_url's) message for `result`."""
    text, blocks = blocks_for(asked, result)
    return {
        "response_type": "ephemeral" if ephemeral else "in_channel",
        "text": _cut(text, 3000),
        "blocks": blocks,
    }


def notice(text: str) -> dict:
    """A short message to the one who asked (usage, errors, thanks)."""
    return {"response_type": "ephemeral", "text": text}


def question_of(text: str) -> str:
    """The question in a slash command's text or an app mention (the mention of the bot left out)."""
    words = [w for w in text.split() if not (w.startswith("<@") and w.endswith(">"))]
    return " ".join(words).strip()
