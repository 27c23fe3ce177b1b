"""The review queue over HTTP: unanswered groups, picked suggestions and not-helpful feedback
in one list, most frequent first, each with its nearest entries; one call adds an item's
questions as wordings (answered at once), creates an entry, or dismisses it, and an item acted
on does not come back."""

from __future__ import annotations

from tests.app.api.conftest import ADMIN_KEY

ADMIN = {"X-API-Key": ADMIN_KEY}
EGGS = ["how long should i boil an egg?", "how many minutes do i boil eggs for?", "how long to boil an egg"]
PICKED = "biggest thing i can put in a bucket"
UNHELPFUL = "why was my invoice so high"


def _queue(client) -> list[dict]:
    response = client.get("/admin/review", headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _ask(client, question: str) -> dict:
    return client.post("/ask", json={"question": question}).json()


def _act(client, item_id: str, **body):
    return client.post(f"/admin/review/{item_id}", json=body, headers=ADMIN)


def test_the_queue_and_its_three_actions(client):
    for question in EGGS:
        assert _ask(client, question)["status"] != "answered"
    some_entry = _ask(client, "how big can one file in a bucket be?")["answers"][0]
    feedback = {"entry_id": some_entry["id"], "helpful": True, "picked": True}
    assert client.post("/feedback", json={"question": PICKED, **feedback}).status_code == 201
    assert client.post("/feedback", json={"question": PICKED, **feedback}).status_code == 201
    unhelpful = {"question": UNHELPFUL, "entry_id": some_entry["id"], "helpful": False}
    assert client.post("/feedback", json=unhelpful).status_code == 201

    items = _queue(client)
    assert [(i["kind"], i["count"]) for i in items] == [
        ("unanswered", 3),
        ("picked_suggestion", 2),
        ("not_helpful", 1),
    ]
    eggs, picked, not_helpful = items
    assert set(eggs["examples"]) == set(EGGS)
    assert picked["examples"] == [PICKED] and picked["entry_id"] == some_entry["id"]
    assert all(len(i["nearest"]) == 3 and {"id", "question", "score"} == set(i["nearest"][0]) for i in items)

    # add as a wording: one call, answered at once, with the entry's id unchanged
    assert _ask(client, PICKED)["status"] != "answered"
    done = _act(client, picked["id"], action="add_wording", entry_id=some_entry["id"])
    assert done.status_code == 200, done.text
    assert done.json()["entry"]["id"] == some_entry["id"] and PICKED in done.json()["entry"]["alternates"]
    after = _ask(client, PICKED)
    assert after["status"] == "answered" and after["answers"][0]["id"] == some_entry["id"]

    # create an entry: the item's first question prefilled, the others its wordings
    created = _act(
        client, eggs["id"], action="create_entry", answer="nine minutes for a hard yolk", source="kitchen"
    )
    assert created.status_code == 200, created.text
    entry = created.json()["entry"]
    assert entry["question"] == eggs["examples"][0] and set(entry["alternates"]) == set(EGGS) - {
        entry["question"]
    }
    for question in EGGS:
        answered = _ask(client, question)
        assert answered["status"] == "answered" and answered["answers"][0]["id"] == entry["id"]

    # dismiss; the same question again does not bring the item back
    assert _act(client, not_helpful["id"], action="dismiss").json() == {
        "item": not_helpful["id"],
        "action": "dismiss",
        "dismissed": 1,
    }
    assert client.post("/feedback", json=unhelpful).status_code == 201
    assert _ask(client, EGGS[0])["status"] == "answered"
    assert _queue(client) == []
    # an item acted on is gone
    assert _act(client, picked["id"], action="dismiss").status_code == 404


def test_actions_are_validated(client):
    assert _ask(client, "what is the capital of australia?")["status"] != "answered"
    (item,) = [i for i in _queue(client) if "australia" in i["examples"][0]]
    missing_entry = _act(client, item["id"], action="add_wording")
    assert missing_entry.status_code == 422 and "entry_id" in missing_entry.text
    assert _act(client, item["id"], action="create_entry").status_code == 422
    assert _act(client, item["id"], action="promote").status_code == 422
    stranger = _act(
        client, item["id"], action="add_wording", entry_id=item["nearest"][0]["id"], wordings=["x y"]
    )
    assert stranger.status_code == 422 and "not a question of this item" in stranger.json()["detail"]
    unknown_entry = _act(
        client, item["id"], action="add_wording", entry_id="00000000-0000-0000-0000-000000000000"
    )
    assert unknown_entry.status_code == 404
    assert client.get("/admin/review").status_code == 401
    assert _act(client, "00000000-0000-0000-0000-000000000000", action="dismiss").status_code == 404
    assert item in _queue(client), "nothing was written by the refused actions"
