"""Questions the FAQ could not answer are recorded and grouped for its owners; an entry written
for a group answers it; recording can be switched off."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.api.conftest import ADMIN_KEY, index_into, settings_for

ADMIN = {"X-API-Key": ADMIN_KEY}
EGGS = [
    "how long should i boil an egg?",
    "how many minutes do i boil eggs for?",
    "how long to boil an egg",
]
WEATHER = "will it rain in paris tomorrow?"


def _unanswered(client) -> dict:
    response = client.get("/admin/unanswered", headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def test_unanswered_questions_are_grouped_most_asked_first(client):
    for question in [*EGGS, WEATHER]:
        assert client.post("/ask", json={"question": question}).json()["answered"] is False
    client.post("/ask", json={"question": "how do i create a storage bucket?"})  # answered: not recorded
    body = _unanswered(client)
    assert body["recording"] is True and body["questions"] == 4
    first, second = body["groups"]
    assert first["count"] == 3 and set(first["examples"]) == set(EGGS)
    assert first["representative"] in EGGS
    assert second["count"] == 1 and second["representative"] == WEATHER
    assert first["best_score"] < client.post("/ask", json={"question": EGGS[0]}).json()["threshold"]
    # a strict similarity splits the wordings apart
    strict = client.get("/admin/unanswered", params={"min_similarity": 0.99}, headers=ADMIN).json()
    assert len(strict["groups"]) >= 3


def test_writing_an_entry_for_a_group_answers_it(client):
    group = _unanswered(client)["groups"][0]
    entry = {"question": group["representative"], "answer": "about seven minutes for a hard yolk"}
    assert client.post("/faq/entries", json=entry, headers=ADMIN).status_code == 201
    body = client.post("/ask", json={"question": group["representative"]}).json()
    assert body["answered"] is True and body["answers"][0]["answer"] == entry["answer"]


def test_the_records_can_be_cleared(client):
    assert client.delete("/admin/unanswered", headers=ADMIN).json()["deleted"] >= 4
    assert _unanswered(client)["groups"] == []
    assert client.get("/admin/unanswered").status_code == 401


def test_recording_can_be_switched_off(trained_servable, tmp_path):
    store = tmp_path / "qdrant"  # its own store: the module's client holds the shared one
    index_into(store, trained_servable)
    settings = settings_for(trained_servable, store, ADMIN_API_KEY=ADMIN_KEY, FAQ_RECORD_QUESTIONS="false")
    with TestClient(create_app(settings)) as off:
        assert off.post("/ask", json={"question": EGGS[0]}).json()["answered"] is False
        body = _unanswered(off)
        assert body["recording"] is False and body["questions"] == 0
        # nor is the ask log behind the insights kept
        insights = off.get("/admin/insights", params={"days": 1}, headers=ADMIN).json()
        assert insights["days"][0]["asks"] == 0
