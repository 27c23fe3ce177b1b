"""POST /admin/import into a running FAQ: a dry run says what would be added, changed, removed
and left alone and writes nothing; applying does exactly that; re-importing is all unchanged;
one bad row writes nothing and names the row; replace runs as a reindex."""

from __future__ import annotations

import time

from tests.app.api.conftest import ADMIN_KEY

ADMIN = {"X-API-Key": ADMIN_KEY}
CSV = {"Content-Type": "text/csv", **ADMIN}
ROWS = [
    ("Borrowing", "How many books can I borrow at once?", "Up to 20 items on one card."),
    ("Borrowing", "How long is the loan period?", "Three weeks for books, one week for films."),
    ("Borrowing", "Can I renew a loan?", "Yes, twice, online or at the desk, unless someone reserved it."),
    ("Cards", "How do I get a library card?", "Bring a photo ID and proof of address to any branch."),
    ("Cards", "What if I lose my card?", "Report it at once; a new card costs two pounds."),
    ("Rooms", "Can I book a study room?", "Yes, up to two hours a day, online."),
]


def _csv(rows, extra_column: str = "") -> bytes:
    header = "category,question,answer" + (",alternates" if extra_column else "")
    lines = [header] + [",".join(f'"{cell}"' for cell in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def _import(client, body: bytes, **params):
    return client.post("/admin/import", content=body, params=params, headers=CSV)


def _entries(client) -> list[dict]:
    return client.get("/faq/entries", params={"limit": 1000}, headers=ADMIN).json()["entries"]


def _counts(body: dict) -> tuple[int, int, int, int]:
    return body["added"], body["changed"], body["removed"], body["unchanged"]


def test_merge_dry_run_apply_and_again(empty):
    dry = _import(empty, _csv(ROWS), dry_run="true")
    assert dry.status_code == 200, dry.text
    assert (
        _counts(dry.json()) == (6, 0, 0, 0) and dry.json()["errors"] == [] and dry.json()["dry_run"] is True
    )
    assert _entries(empty) == [], "a dry run writes nothing"
    applied = _import(empty, _csv(ROWS))
    assert applied.status_code == 200 and _counts(applied.json()) == (6, 0, 0, 0)
    assert len(_entries(empty)) == 6
    assert _counts(_import(empty, _csv(ROWS)).json()) == (0, 0, 0, 6)
    answered = empty.post("/ask", json={"question": ROWS[3][1]}).json()
    assert answered["status"] == "answered" and answered["answers"][0]["source"] == "Cards"

    # a changed answer matches its entry by question: changed, same id; wordings merged in
    before = {e["question"]: e["id"] for e in _entries(empty)}
    changed = [*ROWS[:5], ("Rooms", ROWS[5][1], "Yes, up to three hours a day.")]
    worded = [(*row, "") for row in changed[:5]] + [(*changed[5], "book a room to study|quiet room booking")]
    report = _import(empty, _csv(worded, "alternates"), dry_run="true").json()
    assert _counts(report) == (0, 1, 0, 5)
    assert _counts(_import(empty, _csv(worded, "alternates")).json()) == (0, 1, 0, 5)
    after = {e["question"]: e for e in _entries(empty)}
    room = after[ROWS[5][1]]
    assert room["id"] == before[ROWS[5][1]] and room["answer"] == "Yes, up to three hours a day."
    assert room["alternates"] == ["book a room to study", "quiet room booking"]


def test_a_bad_row_writes_nothing_and_is_named(empty):
    bad = [*ROWS[:3], ("Cards", "What if I lose my card?", ""), *ROWS[4:]]
    dry = _import(empty, _csv(bad), dry_run="true").json()
    assert [(e["where"], e["problem"]) for e in dry["errors"]] == [
        ("row 5", "field 'answer' must not be empty")
    ]
    refused = _import(empty, _csv(bad))
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["where"] == "row 5" and "nothing written" in refused.json()["detail"]
    assert _entries(empty) == []
    assert _import(empty, b"not,a,faq\n1,2,3\n").status_code == 422
    assert _import(empty, _csv(ROWS), mode="upsert").status_code == 422
    assert empty.post("/admin/import", content=_csv(ROWS)).status_code == 401


def test_replace_removes_what_the_file_does_not_have(empty):
    _import(empty, _csv(ROWS))
    dry = _import(empty, _csv(ROWS[:5]), mode="replace", dry_run="true").json()
    assert _counts(dry) == (0, 0, 1, 5) and dry["job"] is None
    started = _import(empty, _csv(ROWS[:5]), mode="replace")
    assert started.status_code == 202, started.text
    job = started.json()["job"]
    deadline = time.monotonic() + 60
    while job["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        job = empty.get(f"/admin/reindex/{job['id']}", headers=ADMIN).json()
    assert job["status"] == "succeeded", job
    assert {e["question"] for e in _entries(empty)} == {row[1] for row in ROWS[:5]}


def test_close_entries_are_warned_about_by_row(empty):
    _import(empty, _csv(ROWS))
    twins = [("Borrowing", "How many books can I borrow at one time?", "Twenty.")]
    report = _import(empty, _csv(twins), dry_run="true").json()
    (warning,) = report["warnings"]
    assert warning["where"] == "row 2" and warning["kind"] == "similar"
    assert warning["other_question"] == ROWS[0][1]


def test_the_preview_names_every_column_it_does_not_read(empty):
    body = (
        b"Category,Question?,Answer,Alternate questions,Notes,Owner\n"
        b'"Cards","How do I get a library card?","Bring a photo ID.","get a card|sign up","internal","x"\n'
    )
    dry = _import(empty, body, dry_run="true").json()
    assert dry["added"] == 1
    assert dry["ignored_columns"] == ["column 'Notes' ignored", "column 'Owner' ignored"]
    _import(empty, body)
    (entry,) = _entries(empty)
    assert entry["alternates"] == ["get a card", "sign up"]  # "Alternate questions" was read
