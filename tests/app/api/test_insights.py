"""GET /admin/insights: asks per day by outcome from the ask log, the most asked entries, the
unanswered groups and feedback per entry (with recording off nothing is logged:
test_unanswered.py's switched-off test checks that too)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.api.conftest import ADMIN_KEY, index_into, settings_for

ADMIN = {"X-API-Key": ADMIN_KEY}
BUCKET = "how do i create a storage bucket?"


def _insights(client, days: int = 7) -> dict:
    response = client.get("/admin/insights", params={"days": days}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def test_insights_count_what_users_asked(trained_servable, tmp_path):
    store = tmp_path / "qdrant"
    index_into(store, trained_servable)
    settings = settings_for(trained_servable, store, ADMIN_API_KEY=ADMIN_KEY, FAQ_ASK_LOG_PER_MINUTE="7")
    with TestClient(create_app(settings)) as client:
        statuses = []
        for question in [
            BUCKET,
            BUCKET,
            BUCKET,
            "what is the capital of australia?",
            "how long to boil an egg?",
        ]:
            statuses.append(client.post("/ask", json={"question": question}).json()["status"])
        bucket = client.post("/ask", json={"question": BUCKET}).json()["answers"][0]
        statuses.append("answered")
        client.post("/feedback", json={"question": BUCKET, "entry_id": bucket["id"], "helpful": True})
        client.post("/feedback", json={"question": "bucket?", "entry_id": bucket["id"], "helpful": False})
        report = _insights(client)
        assert len(report["days"]) == 7 and report["days"][-1]["date"] == datetime.now(UTC).date().isoformat()
        today = report["days"][-1]
        assert today["asks"] == 6 and today["answered"] == statuses.count("answered")
        assert today["clarify"] == statuses.count("clarify") and today["no_answer"] == statuses.count(
            "no_answer"
        )
        assert sum(day["asks"] for day in report["days"][:-1]) == 0
        assert report["top_entries"][0] == {"id": bucket["id"], "question": BUCKET, "asks": 4}
        assert {q for u in report["unanswered"] for q in u["examples"]} >= {
            "what is the capital of australia?"
        }
        assert report["feedback"] == [
            {"id": bucket["id"], "question": BUCKET, "helpful": 1, "not_helpful": 1}
        ]
        assert client.get("/admin/insights", params={"days": 0}, headers=ADMIN).status_code == 422
        assert client.get("/admin/insights").status_code == 401
        # one client asking beyond its budget (7 a minute) is answered, but not logged
        for _ in range(5):
            assert client.post("/ask", json={"question": BUCKET}).status_code == 200
        assert _insights(client)["days"][-1]["asks"] == 7
