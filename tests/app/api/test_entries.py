"""Live FAQ management through the API: entries answer at once, edits re-encode, deletes stop
answering, bad batches write nothing, and a reindex in progress refuses changes (409)."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from app.domain.records import parse_dataset
from app.main import create_app
from tests.app.api.conftest import ADMIN_KEY, index_into, settings_for
from tests.conftest import bigger_faq

ADMIN = {"X-API-Key": ADMIN_KEY}
EGG = {
    "question": "how long do i boil an egg for a runny yolk?",
    "answer": "six minutes in boiling water, then cool it under cold water",
    "source": "kitchen",
    "filename": "eggs_faqs",
}


def _count(client) -> int:
    return client.get("/ready").json()["points"]


def _ask(client, question: str, **extra) -> dict:
    response = client.post("/ask", json={"question": question, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def test_an_added_entry_answers_its_own_question_at_once(client):
    assert _ask(client, EGG["question"])["answered"] is False  # not in the FAQ yet
    before = _count(client)
    added_at = time.monotonic()
    response = client.post("/faq/entries", json=EGG, headers=ADMIN)
    assert response.status_code == 201, response.text
    (entry_id,) = response.json()["ids"]
    body = _ask(client, EGG["question"])
    assert time.monotonic() - added_at < 1.0  # "in the same second"
    assert body["answered"] is True
    assert body["answers"][0]["id"] == entry_id and body["answers"][0]["answer"] == EGG["answer"]
    assert _count(client) == before + 1
    # the id of /ask's answer is the entry's id in the entry routes
    assert client.get(f"/faq/entries/{entry_id}", headers=ADMIN).json() == {
        "id": entry_id,
        **EGG,
        "alternates": [],
        "follow_ups": [],
    }
    # adding the same entry again stores it once, under the same id
    again = client.post("/faq/entries", json=[EGG], headers=ADMIN)
    assert again.json()["ids"] == [entry_id] and _count(client) == before + 1


def test_an_edited_entry_keeps_its_id_and_is_encoded_anew(client):
    entry = {**EGG, "question": "what is the wifi password of the office?", "answer": "it is on the fridge"}
    (entry_id,) = client.post("/faq/entries", json=entry, headers=ADMIN).json()["ids"]

    def score_for(question: str) -> float:
        answers = _ask(client, question, score_threshold=-1.0, top_k=50)["answers"]
        return next(a["score"] for a in answers if a["id"] == entry_id)

    old_score = score_for(entry["question"])
    edit = {"question": "where do i park my bicycle at the office?", "answer": "in the courtyard rack"}
    response = client.put(f"/faq/entries/{entry_id}", json={**edit, "page": "office_faqs"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": entry_id,
        **entry,
        **edit,
        "filename": "office_faqs",
        "alternates": [],
        "follow_ups": [],
        "warnings": [],
    }
    body = _ask(client, edit["question"])
    assert body["answers"][0]["id"] == entry_id and body["answers"][0]["answer"] == edit["answer"]
    # the old wording matches it much less: its vectors were replaced, not added to
    assert score_for(entry["question"]) < old_score - 0.2


def test_a_deleted_entry_stops_answering(client):
    entry = {"question": "can my dog come to the office on fridays?", "answer": "yes, on a leash"}
    (entry_id,) = client.post("/faq/entries", json=entry, headers=ADMIN).json()["ids"]
    assert _ask(client, entry["question"])["answers"][0]["id"] == entry_id
    before = _count(client)
    assert client.delete(f"/faq/entries/{entry_id}", headers=ADMIN).status_code == 204
    assert _count(client) == before - 1
    assert client.get(f"/faq/entries/{entry_id}", headers=ADMIN).status_code == 404
    assert client.delete(f"/faq/entries/{entry_id}", headers=ADMIN).status_code == 404
    answers = _ask(client, entry["question"], score_threshold=-1.0)["answers"]
    assert entry_id not in [a["id"] for a in answers]


@pytest.mark.parametrize(
    ("batch", "named"),
    [
        ([EGG, {**EGG, "question": "another?", "answer": ""}], "1.answer: answer must not be empty"),
        ([EGG, {"question": "no answer field"}], "1.answer: Field required"),
        ([{**EGG, "source": 7}], "0.source"),
        ([{**EGG, "colour": "red"}], "0.colour"),
        ([{**EGG, "question": "x" * 2001}], "0.question: question is 2001 characters long"),
        ([{**EGG, "answer": "\ud800"}], "0.answer: answer contains an invalid character"),
        ({**EGG, "question": "   "}, "0.question: question must not be empty"),
    ],
)
def test_a_bad_batch_writes_nothing_and_names_the_field(client, batch, named):
    before = _count(client)
    # json.dumps escapes a lone surrogate as \ud800, as a client's JSON encoder would send it
    body = json.dumps(batch)
    response = client.post(
        "/faq/entries", content=body, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert named in response.json()["detail"]
    assert _count(client) == before


def test_list_pages_through_every_entry_once_and_filters_by_source(client):
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = client.get("/faq/entries", params=params, headers=ADMIN).json()
        seen += [entry["id"] for entry in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == _count(client)
    nimbus = client.get("/faq/entries", params={"source": "nimbus", "limit": 1000}, headers=ADMIN).json()
    assert len(nimbus["entries"]) == 20 and {e["source"] for e in nimbus["entries"]} == {"nimbus"}
    bad = client.get("/faq/entries", params={"cursor": "not-an-id"}, headers=ADMIN)
    assert bad.status_code == 422


def test_export_is_the_live_faq_in_the_data_file_format(client):
    entry = {
        "question": "is there a staff canteen?",
        "answer": "yes, on the second floor",
        "source": "office",
    }
    client.post("/faq/entries", json=entry, headers=ADMIN)
    response = client.get("/faq/entries", params={"format": "jsonl"}, headers=ADMIN)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-ndjson")
    exported = parse_dataset(response.text.splitlines(), origin="export")
    assert len(exported.entries) == _count(client)
    assert {**entry, "filename": ""} in [e.to_record() for e in exported.entries]
    only = client.get("/faq/entries", params={"format": "jsonl", "source": "office"}, headers=ADMIN)
    assert [line for line in only.text.splitlines() if line] == [
        '{"question": "is there a staff canteen?", "answer": "yes, on the second floor", '
        '"source": "office", "filename": ""}'
    ]


def test_entry_routes_need_the_admin_key(client, fast_client):
    assert client.post("/faq/entries", json=EGG).status_code == 401
    assert client.get("/faq/entries", headers={"X-API-Key": "wrong"}).status_code == 403
    disabled = fast_client.get("/faq/entries", headers=ADMIN)  # this app has no ADMIN_API_KEY
    assert disabled.status_code == 403 and "disabled" in disabled.json()["detail"]


def test_changes_are_refused_while_a_reindex_runs_and_accepted_after(client):
    job = client.post(
        "/admin/reindex",
        content=bigger_faq(6),
        headers={**ADMIN, "Content-Type": "application/x-ndjson"},
    ).json()
    refused = client.post("/faq/entries", json=EGG, headers=ADMIN)
    assert refused.status_code == 409 and "reindex" in refused.json()["detail"]
    deadline = time.monotonic() + 120
    while client.get(f"/admin/reindex/{job['id']}", headers=ADMIN).json()["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    accepted = client.post("/faq/entries", json=EGG, headers=ADMIN)
    assert accepted.status_code == 201
    assert _count(client) == 6 * 40 + 1  # the reindexed FAQ, and the entry written after it
    assert _ask(client, EGG["question"])["answers"][0]["id"] == accepted.json()["ids"][0]


def test_ids_follow_identity_and_duplicates_are_never_silent(client):
    """The hostile pass's repro: edit X to Y's content (two identical entries before), then
    re-post X's original content (silently overwrote the edit before)."""
    x = {**EGG, "question": "can i freeze boiled eggs?", "answer": "no, the white turns rubbery"}
    y = {**EGG, "question": "how do i peel a boiled egg?", "answer": "crack it all over under cold water"}
    x_id, y_id = client.post("/faq/entries", json=[x, y], headers=ADMIN).json()["ids"]
    before = _count(client)
    # X edited to Y's content: refused, naming Y; nothing changes
    clash = client.put(
        f"/faq/entries/{x_id}", json={"question": y["question"], "answer": y["answer"]}, headers=ADMIN
    )
    assert clash.status_code == 409 and y_id in clash.json()["detail"]
    assert client.get(f"/faq/entries/{x_id}", headers=ADMIN).json()["question"] == x["question"]
    # X edited to new content keeps its id
    edited = {"question": "can i freeze raw eggs?", "answer": "yes, beaten, for up to a year"}
    assert client.put(f"/faq/entries/{x_id}", json=edited, headers=ADMIN).status_code == 200
    # X's original content again: a new entry under a new id; the edit is not overwritten
    (reposted,) = client.post("/faq/entries", json=x, headers=ADMIN).json()["ids"]
    assert reposted not in (x_id, y_id)
    assert client.get(f"/faq/entries/{x_id}", headers=ADMIN).json()["question"] == edited["question"]
    assert client.get(f"/faq/entries/{reposted}", headers=ADMIN).json()["question"] == x["question"]
    # the edited content posted again is the same entry: X's id, nothing written
    again = client.post("/faq/entries", json={**EGG, **edited}, headers=ADMIN).json()["ids"]
    assert again == [x_id]
    assert client.post("/faq/entries", json=x, headers=ADMIN).json()["ids"] == [reposted]
    assert _count(client) == before + 1
    for entry_id in (x_id, y_id, reposted):
        assert client.delete(f"/faq/entries/{entry_id}", headers=ADMIN).status_code == 204


def test_wordings_answer_at_once_and_keep_the_entry_id(client):
    """POST/DELETE /faq/entries/{id}/alternates: a user's wording answers with the entry from
    the next request on, without retraining; the id stays; removing it takes it back."""
    entry = {**EGG, "question": "can i bring my dog to the office?", "answer": "only on fridays, on a leash"}
    (entry_id,) = client.post("/faq/entries", json=entry, headers=ADMIN).json()["ids"]
    wording = "what about rover on thursdays"
    before = _ask(client, wording)
    assert not (before["status"] == "answered" and before["answers"][0]["id"] == entry_id)
    added = client.post(
        f"/faq/entries/{entry_id}/alternates",
        json={"wordings": [wording, " WHAT about rover  on thursdays "]},
        headers=ADMIN,
    )
    assert added.status_code == 200, added.text
    assert added.json()["alternates"] == [wording] and added.json()["id"] == entry_id
    after = _ask(client, wording)
    assert after["status"] == "answered" and after["answers"][0]["id"] == entry_id
    shown = client.get(f"/faq/entries/{entry_id}", headers=ADMIN).json()
    assert shown["alternates"] == [wording] and "warnings" not in shown
    # exported with the entry, in the data-file format
    exported = [
        json.loads(line) for line in client.get("/faq/entries?format=jsonl", headers=ADMIN).text.splitlines()
    ]
    assert {"question": entry["question"], "alternates": [wording]}.items() <= next(
        e for e in exported if e["question"] == entry["question"]
    ).items()
    missing = client.delete(
        f"/faq/entries/{entry_id}/alternates", params={"wording": "never added"}, headers=ADMIN
    )
    assert missing.status_code == 404 and "no wording" in missing.json()["detail"]
    removed = client.delete(
        f"/faq/entries/{entry_id}/alternates", params={"wording": wording.upper()}, headers=ADMIN
    )
    assert removed.status_code == 200 and removed.json()["alternates"] == []
    again = _ask(client, wording)
    assert not (again["status"] == "answered" and again["answers"][0]["id"] == entry_id)
    bad = client.post(f"/faq/entries/{entry_id}/alternates", json={"wordings": ["   "]}, headers=ADMIN)
    assert bad.status_code == 422
    assert (
        client.post(f"/faq/entries/{entry_id}/alternates", json={"wordings": []}, headers=ADMIN).status_code
        == 422
    )


def test_an_entry_close_to_another_is_written_with_a_warning(client):
    first = {**EGG, "question": "where do i leave my scooter overnight?", "answer": "in the courtyard rack"}
    (first_id,) = client.post("/faq/entries", json=first, headers=ADMIN).json()["ids"]
    close = {**first, "question": "Where do I leave my scooter overnight", "answer": "behind the building"}
    response = client.post("/faq/entries", json=[close], headers=ADMIN)
    assert response.status_code == 201
    (warning,) = response.json()["warnings"]
    assert warning["kind"] == "conflict" and warning["other_id"] == first_id and warning["index"] == 0
    near = {**first, "question": "where can i leave my scooter overnight?", "answer": "in the garage"}
    warnings = client.post("/faq/entries", json=near, headers=ADMIN).json()["warnings"]
    assert {w["other_id"] for w in warnings} == {first_id, response.json()["ids"][0]}
    assert all(w["kind"] == "similar" and w["similarity"] >= 0.92 for w in warnings)
    unrelated = {**EGG, "question": "what time does the canteen open?", "answer": "at noon"}
    assert client.post("/faq/entries", json=unrelated, headers=ADMIN).json()["warnings"] == []


def test_the_same_question_with_another_answer_is_a_conflict_whatever_its_page(trained_servable, tmp_path):
    """A stored question is encoded with its page's words: the same question sent without a
    file name (as the review page's create_entry sends it) comes at 0.69 to 0.90 on the
    question side, under the similar threshold; it is still the same question, a conflict."""
    index_into(tmp_path, trained_servable)
    settings = settings_for(trained_servable, tmp_path, ADMIN_API_KEY=ADMIN_KEY)
    with TestClient(create_app(settings)) as fresh:
        stored = fresh.get("/faq/entries", params={"limit": 1000}, headers=ADMIN).json()["entries"]
        assert len(stored) == 40 and all(e["filename"] for e in stored)
        twins = [
            {"question": e["question"], "source": e["source"], "answer": f"another answer {n}"}
            for n, e in enumerate(stored)
        ]
        response = fresh.post("/faq/entries", json=twins, headers=ADMIN)
        assert response.status_code == 201, response.text
        conflicts = {
            (w["index"], w["other_id"]) for w in response.json()["warnings"] if w["kind"] == "conflict"
        }
        assert conflicts == {(n, e["id"]) for n, e in enumerate(stored)}


def test_wordings_added_at_once_are_all_kept(client):
    """Eight wordings added to one entry concurrently: each addition reads and writes the entry
    inside the write guard, so none is lost to another."""
    import threading

    entry = {**EGG, "question": "where is the lost and found?", "answer": "at the front desk"}
    (entry_id,) = client.post("/faq/entries", json=entry, headers=ADMIN).json()["ids"]
    wordings = [f"lost property desk number {n}" for n in range(8)]
    statuses: list[int] = []

    def add(wording: str) -> None:
        response = client.post(
            f"/faq/entries/{entry_id}/alternates", json={"wordings": [wording]}, headers=ADMIN
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=add, args=(w,)) for w in wordings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8
    shown = client.get(f"/faq/entries/{entry_id}", headers=ADMIN).json()["alternates"]
    assert sorted(shown) == sorted(wordings)
