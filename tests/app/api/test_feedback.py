"""POST /feedback: validated, stored durably with the question's embedding, exported as pairs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.app.api.conftest import ADMIN_KEY

ADMIN = {"X-API-Key": ADMIN_KEY}
QUESTION = "how big can one file in a bucket be?"


@pytest.fixture(scope="module")
def answer(client) -> dict:
    body = client.post("/ask", json={"question": QUESTION}).json()
    assert body["answered"]
    return body["answers"][0]


def test_feedback_is_stored_with_the_question_embedding(client, answer):
    response = client.post(
        "/feedback",
        json={"question": QUESTION, "entry_id": answer["id"], "helpful": True, "comment": "thanks"},
    )
    assert response.status_code == 201, response.text
    saved = response.json()
    assert saved["entry_id"] == answer["id"] and saved["helpful"] is True
    log = client.app.state.services.feedback
    (record,) = [
        (rid, payload, vector)
        for rid, payload, vector in log.store.records(log.name, with_vectors=True)
        if rid == saved["id"]
    ]
    _, payload, vector = record
    assert payload["question"] == QUESTION and payload["comment"] == "thanks"
    assert payload["entry"]["answer"] == answer["answer"]  # the answer as it was, kept with it
    expected = client.app.state.search.embed_question(QUESTION)
    assert np.allclose(vector / np.linalg.norm(vector), expected / np.linalg.norm(expected), atol=1e-5)


def test_feedback_reaches_training_pairs_only_once_reviewed(client, answer):
    """Anyone may post feedback: a helpful pair is exported for training only after an owner
    accepted its question in the review queue."""
    client.post(
        "/feedback",
        json={"question": "max object size?", "entry_id": answer["id"], "helpful": True, "picked": True},
    )
    client.post("/feedback", json={"question": "unhelpful one", "entry_id": answer["id"], "helpful": False})

    def exported() -> set[str]:
        response = client.get("/admin/feedback", headers=ADMIN)
        assert response.status_code == 200
        return {json.loads(line)["question"] for line in response.text.splitlines()}

    assert exported() == set(), "nothing reviewed yet: no pairs"
    items = client.get("/admin/review", headers=ADMIN).json()["items"]
    picked = next(i for i in items if i["kind"] == "picked_suggestion")
    assert picked["examples"] == ["max object size?"] and picked["entry_id"] == answer["id"]
    done = client.post(
        f"/admin/review/{picked['id']}",
        json={"action": "add_wording", "entry_id": answer["id"]},
        headers=ADMIN,
    )
    assert done.status_code == 200, done.text
    assert exported() == {"max object size?"}
    everything = client.get("/admin/feedback", params={"pairs": "false"}, headers=ADMIN)
    records = [json.loads(line) for line in everything.text.splitlines()]
    assert {"unhelpful one", QUESTION, "max object size?"} <= {r["question"] for r in records}
    assert client.get("/admin/feedback").status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        (
            {"question": QUESTION, "entry_id": "00000000-0000-0000-0000-000000000000", "helpful": True},
            404,
            "no FAQ entry",
        ),
        ({"question": QUESTION, "entry_id": "not-an-id", "helpful": True}, 422, "entry_id"),
        ({"question": QUESTION, "entry_id": "00000000-0000-0000-0000-000000000000"}, 422, "helpful"),
        (
            {"question": QUESTION, "entry_id": "00000000-0000-0000-0000-000000000000", "helpful": "yes"},
            422,
            "helpful",
        ),
        (
            {"question": " ", "entry_id": "00000000-0000-0000-0000-000000000000", "helpful": True},
            422,
            "question",
        ),
        (
            {
                "question": QUESTION,
                "entry_id": "00000000-0000-0000-0000-000000000000",
                "helpful": True,
                "comment": "x" * 2001,
            },
            422,
            "comment",
        ),
    ],
)
def test_bad_feedback_is_refused_and_names_the_problem(client, body, status, named):
    response = client.post("/feedback", json=body)
    assert response.status_code == status
    assert named in response.json()["detail"]


def test_a_huge_feedback_body_is_a_413(client, answer):
    body = {"question": QUESTION, "entry_id": answer["id"], "helpful": True, "comment": "x" * 100_000}
    assert client.post("/feedback", json=body).status_code == 413
