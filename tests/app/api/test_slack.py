"""Slack: requests signed as Slack signs them (the Slack SDK's own signer) get the FAQ's three
outcomes in Block Kit, within Slack's 3 s; a wrong signature, a stale timestamp and a replay are
refused; a slow answer goes through the response_url; buttons answer their entry (the path
logged) or record feedback; app mentions are answered in their thread, once. Slack's side (its
response_url and Web API) is a local server that records what it is sent."""

from __future__ import annotations

import http.server
import json
import threading
import time
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier

from app.main import create_app
from tests.app.api.conftest import ADMIN_KEY, index_into, settings_for

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0SHOP"
SERVICE = {"X-API-Key": ADMIN_KEY}
ENTRIES = [
    {
        "question": "How long does delivery take?",
        "answer": "Two to three working days <in the country> & abroad a week.",
        "follow_ups": ["Can I track my parcel?"],
    },
    {
        "question": "Can I track my parcel?",
        "answer": "Yes: the e-mail with your order has the tracking link.",
    },
]


class SlackSide:
    """Slack's end: response_urls and the Web API, recording every JSON body sent to them."""

    def __init__(self) -> None:
        received: list[tuple[str, dict]] = []
        self.received = received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the base class's name
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode()
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"form": raw}
                received.append((self.path, body))
                answer = json.dumps({"ok": True, "ts": "1.2"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 20) -> list[tuple[str, dict]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received


@pytest.fixture(scope="module")
def slack_side():
    side = SlackSide()
    yield side
    side.server.shutdown()


def _app(trained_servable, store, slack_side, **extra):
    return create_app(
        settings_for(
            trained_servable,
            store,
            ADMIN_API_KEY=ADMIN_KEY,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_WORKSPACES=f"{TEAM}=shop",
            SLACK_API_URL=f"{slack_side.url}/api/",
            **extra,
        )
    )


@pytest.fixture(scope="module")
def store(trained_servable, tmp_path_factory):
    return _own_store(trained_servable, tmp_path_factory.mktemp("slack-qdrant"))


@pytest.fixture(scope="module")
def client(trained_servable, store, slack_side):
    with TestClient(_app(trained_servable, store, slack_side)) as test_client:
        yield test_client


def signed(body: bytes, *, at: int | None = None, secret: str = SECRET) -> dict[str, str]:
    """The headers Slack sends with `body` (its signature, made as Slack makes it)."""
    timestamp = str(int(time.time()) if at is None else at)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature or ""}


def _command(text: str, response_url: str, team: str = TEAM) -> bytes:
    return urlencode(
        {"command": "/faq", "text": text, "team_id": team, "user_id": "U1", "response_url": response_url}
    ).encode()


def _post(client, path: str, body: bytes, headers: dict, content_type: str) -> tuple:
    started = time.monotonic()
    response = client.post(path, content=body, headers={"Content-Type": content_type, **headers})
    return response, time.monotonic() - started


FORM = "application/x-www-form-urlencoded"


def test_a_slash_command_is_answered_in_block_kit_with_its_follow_ups(client, slack_side):
    body = _command("<@U0BOT> how long does delivery take?", f"{slack_side.url}/hook/1")
    response, took = _post(client, "/slack/commands", body, signed(body), FORM)
    assert response.status_code == 200 and took < 3, (response.text, took)
    message = response.json()
    assert message["response_type"] == "ephemeral"
    section, context, *rest = message["blocks"]
    assert section["text"]["text"] == "Two to three working days &lt;in the country&gt; &amp; abroad a week."
    assert context["elements"][0]["text"] == "FAQ: How long does delivery take?"
    buttons = [e for block in rest if block["type"] == "actions" for e in block["elements"]]
    assert [b["text"]["text"] for b in buttons] == ["Can I track my parcel?", "Helpful", "Not helpful"]
    follow_up = json.loads(buttons[0]["value"])
    assert set(follow_up) == {"e", "v"}


def test_only_requests_slack_signed_just_now_and_once_are_taken(client, slack_side):
    body = _command("how long does delivery take?", f"{slack_side.url}/hook/2")
    cases = {
        "wrong signature": signed(body, secret="not-the-secret"),
        "stale timestamp": signed(body, at=int(time.time()) - 6 * 60),
        "no signature": {},
        "junk timestamp": {**signed(body), "X-Slack-Request-Timestamp": "soon"},
        "another body": signed(body + b"&x=1"),
    }
    for case, headers in cases.items():
        response, _ = _post(client, "/slack/commands", body, headers, FORM)
        assert response.status_code == 401, (case, response.text)
    headers = signed(body)
    assert _post(client, "/slack/commands", body, headers, FORM)[0].status_code == 200
    replayed, _ = _post(client, "/slack/commands", body, headers, FORM)
    assert replayed.status_code == 401 and "replayed" in replayed.text
    # every route checks: events and clicks too
    for path in ("/slack/events", "/slack/interactivity"):
        assert (
            _post(client, path, b"{}", signed(b"{}", secret="wrong"), "application/json")[0].status_code
            == 401
        )


def test_unconnected_workspaces_and_empty_commands_are_told_what_to_do(client, slack_side):
    body = _command("delivery?", f"{slack_side.url}/hook/3", team="T0OTHER")
    assert "not connected" in _post(client, "/slack/commands", body, signed(body), FORM)[0].json()["text"]
    body = _command("  ", f"{slack_side.url}/hook/3")
    assert "/faq how do i" in _post(client, "/slack/commands", body, signed(body), FORM)[0].json()["text"]


def _own_store(trained_servable, path):
    """A store of the test's own with the FAQ `shop` (the module's is held by its service)."""
    index_into(path, trained_servable)
    with TestClient(create_app(settings_for(trained_servable, path, ADMIN_API_KEY=ADMIN_KEY))) as setup:
        assert setup.post("/admin/faqs", json={"name": "shop"}, headers=SERVICE).status_code == 201
        assert setup.post("/faqs/shop/faq/entries", json=ENTRIES, headers=SERVICE).status_code == 201
    return path


def test_a_slow_answer_goes_through_the_response_url(trained_servable, tmp_path, slack_side):
    store = _own_store(trained_servable, tmp_path / "qdrant")
    with TestClient(_app(trained_servable, store, slack_side, SLACK_INLINE_SECONDS="0")) as slow:
        before = len(slack_side.received)
        body = _command("can i track my parcel?", f"{slack_side.url}/hook/slow")
        response, took = _post(slow, "/slack/commands", body, signed(body), FORM)
        assert response.status_code == 200 and took < 3 and response.json()["text"] == "Looking it up…"
        path, later = slack_side.wait_for(before + 1)[before]
    assert path == "/hook/slow" and later["replace_original"] is True
    assert "tracking link" in later["blocks"][0]["text"]["text"]


def test_buttons_answer_their_entry_or_take_the_feedback(client, slack_side):
    body = _command("how long does delivery take?", f"{slack_side.url}/hook/4")
    message = _post(client, "/slack/commands", body, signed(body), FORM)[0].json()
    buttons = [e for block in message["blocks"] if block["type"] == "actions" for e in block["elements"]]

    def click(button: dict, hook: str) -> tuple[str, dict]:
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM},
            "user": {"id": "U1"},
            "response_url": f"{slack_side.url}/hook/{hook}",
            "actions": [{"action_id": button["action_id"], "value": button["value"]}],
        }
        form = urlencode({"payload": json.dumps(payload)}).encode()
        before = len(slack_side.received)
        response, took = _post(client, "/slack/interactivity", form, signed(form), FORM)
        assert response.status_code == 200 and took < 3
        return slack_side.wait_for(before + 1)[before]

    path, answered = click(buttons[0], "follow-up")
    assert path == "/hook/follow-up" and "tracking link" in answered["blocks"][0]["text"]["text"]
    path, thanks = click(buttons[1], "helpful")
    assert thanks["text"] == "Thanks for the feedback."
    # the owner sees both: the helpful vote, and where the asker went next
    feedback = client.get("/faqs/shop/admin/feedback", params={"pairs": "false"}, headers=SERVICE).text
    assert '"helpful": true' in feedback.replace('":true', '": true')
    steps = client.get("/faqs/shop/admin/insights", headers=SERVICE).json()["next_steps"]
    assert steps and steps[0]["question"] == "How long does delivery take?"
    assert steps[0]["next"][0]["question"] == "Can I track my parcel?"


def test_a_click_whose_ids_are_not_ours_reaches_nothing(client, slack_side):
    """A signed click with an entry id or a follow-up path that is not an id (one our buttons
    never carry): 200 for Slack, and nothing asked, posted or recorded."""
    before_steps = client.get("/faqs/shop/admin/insights", headers=SERVICE).json()["next_steps"]
    before = len(slack_side.received)
    entry = client.get("/faqs/shop/faq/entries", headers=SERVICE).json()["entries"][0]["id"]
    for value in (
        {"e": "../../admin"},
        {"e": "x" * 5000},
        {"e": entry, "v": "not-an-id" * 500},
        ["e", entry],
    ):
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM},
            "user": {"id": "U1"},
            "response_url": f"{slack_side.url}/hook/odd",
            "actions": [{"action_id": "answer", "value": json.dumps(value)}],
        }
        form = urlencode({"payload": json.dumps(payload)}).encode()
        response = client.post(
            "/slack/interactivity", content=form, headers={"Content-Type": FORM, **signed(form)}
        )
        assert response.status_code == 200 and response.content == b""
    time.sleep(0.5)
    assert len(slack_side.received) == before
    assert client.get("/faqs/shop/admin/insights", headers=SERVICE).json()["next_steps"] == before_steps


def test_events_the_url_check_and_mentions_answered_in_their_thread_once(client, slack_side):
    challenge = json.dumps(
        {"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    ).encode()
    response, _ = _post(client, "/slack/events", challenge, signed(challenge), "application/json")
    assert response.status_code == 200 and response.json() == {
        "challenge": json.loads(challenge)["challenge"]
    }
    mention = json.dumps(
        {
            "type": "event_callback",
            "team_id": TEAM,
            "event_id": "Ev0001",
            "event": {
                "type": "app_mention",
                "user": "U1",
                "text": "<@U0BOT> can i track my parcel?",
                "channel": "C1",
                "ts": "111.222",
            },
        }
    ).encode()
    before = len(slack_side.received)
    response, took = _post(client, "/slack/events", mention, signed(mention), "application/json")
    assert response.status_code == 200 and took < 3
    path, posted = slack_side.wait_for(before + 1)[before]
    assert path == "/api/chat.postMessage"
    assert posted["channel"] == "C1" and posted["thread_ts"] == "111.222"
    assert "tracking link" in json.dumps(posted["blocks"])
    # delivered again (Slack retries when it saw no 200 in time): answered once
    # (a delivery of its own: signed anew, with the time of its sending)
    again = _post(
        client, "/slack/events", mention, signed(mention, at=int(time.time()) - 1), "application/json"
    )
    assert again[0].status_code == 200
    time.sleep(0.5)
    assert len(slack_side.received) == before + 1


def test_slack_is_off_without_a_signing_secret(trained_servable, tmp_path):
    with TestClient(create_app(settings_for(trained_servable, tmp_path / "qdrant"))) as plain:
        body = _command("delivery?", "http://127.0.0.1:9/hook")
        assert (
            plain.post(
                "/slack/commands", content=body, headers={"Content-Type": FORM, **signed(body)}
            ).status_code
            == 404
        )


def test_each_outcome_has_its_blocks():
    from app.api import slack
    from app.search.answers import Answers, Hit

    near = [
        Hit(f"0b0f8d1e-8f4e-5d43-9d7c-2f9b6a3c1e1{n}", "an answer", f"question {n}?", "", "", 0.5)
        for n in range(3)
    ]
    _, clarify = slack.blocks_for("which one?", Answers([], near, 0.6, 0.5, status="clarify"))
    assert "Did you mean" in clarify[0]["text"]["text"]
    values = [json.loads(b["value"]) for b in clarify[1]["elements"]]
    assert [v["e"] for v in values] == [h.id for h in near] and all(
        v["p"] == 1 and v["q"] == "which one?" for v in values
    )
    assert len({b["action_id"] for b in clarify[1]["elements"]}) == 3, "action ids unique in a block"
    _, declined = slack.blocks_for("far off?", Answers([], [], 0.6, 0.1, status="no_answer"))
    assert declined == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Sorry, the FAQ does not answer that."}}
    ]
    _, related = slack.blocks_for("far off?", Answers([], near[:1], 0.6, 0.3, status="no_answer"))
    assert related[1]["text"]["text"] == "Related questions:" and "p" not in json.loads(
        related[2]["elements"][0]["value"]
    )
    long_answer = Hit(near[0].id, "x" * 5000, "q?", "", "", 0.9)
    text, answered = slack.blocks_for("q?", Answers([long_answer], [], 0.6, 0.9))
    assert len(answered[0]["text"]["text"]) <= 3000 and text == "x" * 5000
