"""Follow-ups: entries offered after an answer. Named by question or id through the API and in
files, answered with `follow_ups: [{id, question}]`, chosen with POST /ask {"entry_id", "via"}
(the path logged for insights), dropped from others when their entry is deleted, and kept
through export and import, versions and rollback."""

from __future__ import annotations

import json

from tests.app.api.conftest import ADMIN_KEY, wait_for_job

ADMIN = {"X-API-Key": ADMIN_KEY}
CARD = {
    "question": "How do I get a library card?",
    "answer": "Bring a photo ID to any branch.",
    "source": "cards",
}
LOST = {"question": "What if I lose my library card?", "answer": "Report it; a new card costs two pounds."}
RENEW = {"question": "Can I renew a loan online?", "answer": "Yes, twice, from your account."}


def _add(client, entries) -> list[str]:
    response = client.post("/faq/entries", json=entries, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()["ids"]


def _entries(client) -> dict[str, dict]:
    listed = client.get("/faq/entries", params={"limit": 1000}, headers=ADMIN).json()["entries"]
    return {e["question"]: e for e in listed}


def test_follow_ups_named_by_question_or_id_come_with_the_answer_and_are_chosen(empty):
    (lost_id,) = _add(empty, [LOST])
    card_id, renew_id = _add(
        empty,
        [
            {
                **CARD,
                "follow_ups": [LOST["question"].upper(), "can i renew a loan online"],
            },  # words, any case
            {**RENEW, "follow_ups": [lost_id]},  # an id
        ],
    )
    asked = empty.post("/ask", json={"question": "how do i get a library card?"}).json()
    assert asked["status"] == "answered" and asked["answers"][0]["id"] == card_id
    assert asked["answers"][0]["follow_ups"] == [
        {"id": lost_id, "question": LOST["question"]},
        {"id": renew_id, "question": RENEW["question"]},
    ]
    # chosen: that entry, answered directly, with its own follow-ups
    chosen = empty.post("/ask", json={"entry_id": renew_id, "via": card_id})
    assert chosen.status_code == 200, chosen.text
    body = chosen.json()
    assert body["status"] == "answered" and body["question"] == RENEW["question"]
    assert [(a["id"], a["score"]) for a in body["answers"]] == [(renew_id, 1.0)]
    assert body["answers"][0]["follow_ups"] == [{"id": lost_id, "question": LOST["question"]}]
    empty.post("/ask", json={"entry_id": lost_id, "via": card_id})
    empty.post("/ask", json={"entry_id": renew_id, "via": card_id})
    # the path is logged: insights show where askers went from the card entry
    steps = empty.get("/admin/insights", headers=ADMIN).json()["next_steps"]
    assert steps == [
        {
            "id": card_id,
            "question": CARD["question"],
            "chosen": 3,
            "next": [
                {"id": renew_id, "question": RENEW["question"], "count": 2},
                {"id": lost_id, "question": LOST["question"], "count": 1},
            ],
        }
    ]
    # the owner reads them by id and question
    assert _entries(empty)[CARD["question"]]["follow_ups"] == asked["answers"][0]["follow_ups"]


def test_bad_follow_ups_and_bad_choices_are_refused_and_write_nothing(empty):
    (card_id,) = _add(empty, [CARD])
    unknown = empty.post("/faq/entries", json={**RENEW, "follow_ups": ["where is the cafe?"]}, headers=ADMIN)
    assert unknown.status_code == 422
    assert (
        "'where is the cafe?'" in unknown.json()["detail"] and RENEW["question"] in unknown.json()["detail"]
    )
    itself = empty.put(f"/faq/entries/{card_id}", json={"follow_ups": [CARD["question"]]}, headers=ADMIN)
    assert itself.status_code == 422 and "its own follow-up" in itself.json()["detail"]
    eleven = empty.post(
        "/faq/entries", json={**RENEW, "follow_ups": [f"q{n}" for n in range(11)]}, headers=ADMIN
    )
    assert eleven.status_code == 422
    assert set(_entries(empty)) == {CARD["question"]}, "nothing written"
    gone = "0b0f8d1e-8f4e-5d43-9d7c-2f9b6a3c1e11"
    assert empty.post("/ask", json={"entry_id": gone}).status_code == 404
    for body in ({"question": "card?", "entry_id": card_id}, {"via": card_id, "question": "card?"}, {}):
        assert empty.post("/ask", json=body).status_code == 422, body


def test_deleting_an_entry_drops_it_from_the_follow_ups_offering_it(empty):
    lost_id, renew_id = _add(empty, [LOST, RENEW])
    (card_id,) = _add(empty, [{**CARD, "follow_ups": [lost_id, renew_id]}])
    assert empty.delete(f"/faq/entries/{lost_id}", headers=ADMIN).status_code == 204
    assert _entries(empty)[CARD["question"]]["follow_ups"] == [
        {"id": renew_id, "question": RENEW["question"]}
    ]
    chosen = empty.post("/ask", json={"entry_id": card_id}).json()
    assert chosen["answers"][0]["follow_ups"] == [{"id": renew_id, "question": RENEW["question"]}]


def test_follow_ups_survive_export_import_versions_and_rollback(empty):
    lost_id, renew_id = _add(empty, [LOST, RENEW])
    _add(empty, [{**CARD, "follow_ups": [lost_id, renew_id]}])
    # export: follow-ups as questions, so the file reads on its own
    exported = empty.get("/faq/entries", params={"format": "jsonl"}, headers=ADMIN).text
    records = {r["question"]: r for r in map(json.loads, exported.splitlines())}
    assert records[CARD["question"]]["follow_ups"] == [LOST["question"], RENEW["question"]]
    # a replacing import of the export (a reindex: the entries get the ids of their content)
    replaced = empty.post(
        "/admin/import",
        content=exported.encode(),
        params={"mode": "replace", "format": "jsonl"},
        headers={**ADMIN, "Content-Type": "application/x-ndjson"},
    )
    assert replaced.status_code == 202, replaced.text
    wait_for_job(empty, replaced.json()["job"])
    after = _entries(empty)
    assert [f["question"] for f in after[CARD["question"]]["follow_ups"]] == [
        LOST["question"],
        RENEW["question"],
    ]
    assert [f["id"] for f in after[CARD["question"]]["follow_ups"]] == [
        after[LOST["question"]]["id"],
        after[RENEW["question"]]["id"],
    ]
    # a CSV with a follow-up column, merged: the file's follow-ups replace the entry's
    csv = (
        "category,question,answer,follow-up questions\n"
        f'cards,"{CARD["question"]}","{CARD["answer"]}","{RENEW["question"]}"\n'
    ).encode()
    merged = empty.post("/admin/import", content=csv, headers={**ADMIN, "Content-Type": "text/csv"})
    assert merged.status_code == 200 and merged.json()["changed"] == 1, merged.text
    assert [f["question"] for f in _entries(empty)[CARD["question"]]["follow_ups"]] == [RENEW["question"]]
    # a CSV naming an entry the FAQ has not: refused by row, nothing written
    bad = csv.replace(RENEW["question"].encode(), b"Is there a cafe?")
    refused = empty.post("/admin/import", content=bad, headers={**ADMIN, "Content-Type": "text/csv"})
    assert refused.status_code == 422 and "row 2" in refused.text and "Is there a cafe?" in refused.text
    # versions: another replacing import without the card's follow-ups, then a rollback to the
    # version the first one built: its follow-ups are back
    first_version = next(
        v for v in empty.get("/admin/versions", headers=ADMIN).json()["versions"] if v["live"]
    )
    plain = "\n".join(
        json.dumps({k: v for k, v in r.items() if k != "follow_ups"}) for r in records.values()
    ).encode()
    again = empty.post(
        "/admin/import",
        content=plain,
        params={"mode": "replace", "format": "jsonl"},
        headers={**ADMIN, "Content-Type": "application/x-ndjson"},
    )
    wait_for_job(empty, again.json()["job"])
    assert _entries(empty)[CARD["question"]]["follow_ups"] == []
    back = empty.post(
        f"/admin/versions/{first_version['name']}/activate", params={"force": "true"}, headers=ADMIN
    )
    assert back.status_code == 200, back.text
    restored = _entries(empty)[CARD["question"]]["follow_ups"]
    assert [f["question"] for f in restored] == [RENEW["question"]], "as the merge left that version"
