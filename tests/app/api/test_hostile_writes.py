"""The hostile pass over the write routes (wordings, review, import, test sets): each test sends
the exact request that answered 500, or did the wrong thing, and checks the answer and that
nothing was written."""

from __future__ import annotations

import json
import threading

import pytest
from fastapi.testclient import TestClient

from app.domain.entry import MAX_ALTERNATES
from app.main import create_app
from app.writes.faq_import import MAX_IMPORT_ROWS
from tests.app.api.conftest import ADMIN_KEY, index_into, settings_for
from tests.app.domain.test_workbook import HEADER_ROW, NS, book

ADMIN = {"X-API-Key": ADMIN_KEY}
TOPICS = {
    "how many minutes do i boil egg number {} for?": MAX_ALTERNATES + 5,
    "where can i park bicycle number {} overnight?": MAX_ALTERNATES + 5,
    "what is the weather in paris on day {}?": 3,
    "can i bring my dog number {} to the office?": 3,
    "how do i knit scarf number {}?": 2,
}
XLSX = {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", **ADMIN}
CSV = {"Content-Type": "text/csv", **ADMIN}
JSONL = {"Content-Type": "application/x-ndjson", **ADMIN}


@pytest.fixture(scope="module")
def roomy(trained_servable, tmp_path_factory):
    """The app with room in the per-client budgets: one test client asks hundreds of questions."""
    path = tmp_path_factory.mktemp("qdrant-hostile-writes")
    index_into(path, trained_servable)
    settings = settings_for(
        trained_servable,
        path,
        ADMIN_API_KEY=ADMIN_KEY,
        FAQ_RECORDS_PER_MINUTE="100000",
        FAQ_LEARN_FROM_ASKERS="0",
    )
    with TestClient(create_app(settings)) as client:
        # Every missing topic the tests act on, asked before any test adds an entry (an entry
        # made of numbered wordings would answer the next topic's numbered questions).
        for template, n in TOPICS.items():
            for number in range(n):
                answer = client.post("/ask", json={"question": template.format(number)}).json()
                assert answer["status"] != "answered", template
        yield client


def _entries(client) -> list[dict]:
    return client.get("/faq/entries", params={"limit": 1000}, headers=ADMIN).json()["entries"]


def _item(client, word: str) -> dict:
    items = client.get("/admin/review", params={"limit": 1000}, headers=ADMIN).json()["items"]
    (item,) = [i for i in items if word in i["examples"][0]]
    return item


def test_review_actions_on_an_item_of_more_questions_than_an_entry_holds(roomy):
    # 205 distinct questions of one missing topic (the most asked): before, both actions 500ed
    eggs = _item(roomy, "egg")
    assert eggs["count"] == MAX_ALTERNATES + 5
    created = roomy.post(
        f"/admin/review/{eggs['id']}", json={"action": "create_entry", "answer": "Nine."}, headers=ADMIN
    )
    assert created.status_code == 200, created.text
    assert len(created.json()["entry"]["alternates"]) == MAX_ALTERNATES

    bikes = _item(roomy, "bicycle")
    target = next(e for e in _entries(roomy) if not e["alternates"])
    added = roomy.post(
        f"/admin/review/{bikes['id']}",
        json={"action": "add_wording", "entry_id": target["id"]},
        headers=ADMIN,
    )
    assert added.status_code == 200, added.text
    assert len(added.json()["entry"]["alternates"]) == MAX_ALTERNATES
    assert (
        roomy.post(f"/admin/review/{bikes['id']}", json={"action": "dismiss"}, headers=ADMIN).status_code
        == 404
    )

    # one wording more, past the cap: 422 naming the limit, the entry as it was
    before = roomy.get(f"/faq/entries/{target['id']}", headers=ADMIN).json()
    more = roomy.post(
        f"/faq/entries/{target['id']}/alternates",
        json={"wordings": ["one more way to ask it"]},
        headers=ADMIN,
    )
    assert more.status_code == 422 and f"at most {MAX_ALTERNATES}" in more.json()["detail"]
    assert roomy.get(f"/faq/entries/{target['id']}", headers=ADMIN).json() == before


def test_wordings_past_the_cap_in_one_request_or_over_several(roomy):
    target = next(e for e in _entries(roomy) if not e["alternates"])
    first = [f"first way number {n} to ask" for n in range(150)]
    assert (
        roomy.post(
            f"/faq/entries/{target['id']}/alternates", json={"wordings": first}, headers=ADMIN
        ).status_code
        == 200
    )
    second = [f"second way number {n} to ask" for n in range(100)]
    refused = roomy.post(f"/faq/entries/{target['id']}/alternates", json={"wordings": second}, headers=ADMIN)
    assert refused.status_code == 422 and "250 alternate wordings" in refused.json()["detail"]
    assert len(roomy.get(f"/faq/entries/{target['id']}", headers=ADMIN).json()["alternates"]) == 150


def test_one_action_wins_on_a_review_item(roomy):
    item = _item(roomy, "paris")
    count = len(_entries(roomy))
    answers: list[int] = []
    barrier = threading.Barrier(10)

    def create() -> None:
        barrier.wait()
        body = {"action": "create_entry", "answer": "Ask a weather service."}
        answers.append(roomy.post(f"/admin/review/{item['id']}", json=body, headers=ADMIN).status_code)

    threads = [threading.Thread(target=create) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200] + [404] * 9
    assert len(_entries(roomy)) == count + 1

    dogs = _item(roomy, "dog")
    entry_id = next(e["id"] for e in _entries(roomy) if not e["alternates"])  # room for the wordings
    bodies = [{"action": "add_wording", "entry_id": entry_id}, {"action": "dismiss"}]
    results: list[int] = []
    both = threading.Barrier(2)

    def act(body: dict) -> None:
        both.wait()
        results.append(roomy.post(f"/admin/review/{dogs['id']}", json=body, headers=ADMIN).status_code)

    pair = [threading.Thread(target=act, args=(body,)) for body in bodies]
    for thread in pair:
        thread.start()
    for thread in pair:
        thread.join()
    assert sorted(results) == [200, 404]


def test_create_entry_with_an_existing_question_warns_as_a_new_entry_does(roomy):
    item = _item(roomy, "knit")
    # An entry whose stored question carries its page's words (question_context): the same
    # question sent with its source and no file name comes at 0.90, under the similar threshold.
    (existing,) = [e for e in _entries(roomy) if e["question"] == "can i set a spending limit?"]
    body = {
        "action": "create_entry",
        "answer": "Some other answer.",
        "question": existing["question"],
        "source": existing["source"],
    }
    created = roomy.post(f"/admin/review/{item['id']}", json=body, headers=ADMIN)
    assert created.status_code == 200, created.text
    assert existing["id"] in {w["other_id"] for w in created.json()["entry"]["warnings"]}, created.text


def _versions(client) -> list[str]:
    return [v["name"] for v in client.get("/admin/versions", headers=ADMIN).json()["versions"]]


@pytest.mark.parametrize(
    ("name", "sheet", "shared"),
    [
        ("truncated sheet", HEADER_ROW + "<row r='2'><c", None),
        ("undefined entity", HEADER_ROW, f"<sst {NS}><si><t>&ext;</t></si></sst>"),
        (
            "external entity",
            HEADER_ROW,
            f'<!DOCTYPE sst [<!ENTITY e SYSTEM "file:///etc/passwd">]><sst {NS}><si><t>&e;</t></si></sst>',
        ),
        (
            "billion laughs",
            HEADER_ROW,
            '<!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">'
            + "".join(f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">' for n in range(9))
            + f"]><sst {NS}><si><t>&j;</t></si></sst>",
        ),
        (
            "shared string out of range",
            HEADER_ROW + '<row r="2"><c r="A2" t="s"><v>99</v></c></row>',
            f"<sst {NS}/>",
        ),
        ("zip bomb", HEADER_ROW, f"<sst {NS}><si><t>{'a' * (80 * 1024 * 1024)}</t></si></sst>"),
    ],
)
def test_malformed_workbooks_are_422_on_every_upload_route(roomy, name, sheet, shared):
    data = book(sheet, shared)
    count, versions = len(_entries(roomy)), _versions(roomy)
    for route in ("/admin/import", "/admin/reindex", "/admin/test"):
        response = roomy.post(route, content=data, headers=XLSX)
        assert response.status_code == 422, (name, route, response.text)
        assert "not an Excel .xlsx workbook" in response.json()["detail"], (name, route)
    assert len(_entries(roomy)) == count and _versions(roomy) == versions


def test_a_json_integer_past_pythons_digit_limit_is_422(roomy):
    body = b'[{"question": "q?", "answer": "a.", "n": ' + b"9" * 5000 + b"}]"
    for route in ("/admin/import", "/admin/reindex", "/admin/test"):
        response = roomy.post(route, content=body, params={"format": "json"}, headers=ADMIN)
        assert response.status_code == 422, (route, response.text)
        assert "invalid JSON" in response.json()["detail"]


def test_a_refused_import_computes_no_warnings_and_imports_have_a_row_cap(roomy):
    count, versions = len(_entries(roomy)), _versions(roomy)
    # two near-identical good rows would give a warning, if anything were encoded; one bad row
    rows = "question,answer\nhow do i join the chess club?,Ask at the desk.\n"
    rows += "how can i join the chess club?,Ask at the desk.\n,no question here\n"
    refused = roomy.post("/admin/import", content=rows.encode(), headers=CSV)
    assert refused.status_code == 422 and refused.json()["errors"][0]["where"] == "row 4"
    assert refused.json()["warnings"] == []
    too_many = "question,answer\n" + "".join(
        f"question {n}?,answer {n}.\n" for n in range(MAX_IMPORT_ROWS + 1)
    )
    capped = roomy.post("/admin/import", content=too_many.encode(), params={"dry_run": "true"}, headers=CSV)
    assert capped.status_code == 422 and f"at most {MAX_IMPORT_ROWS:,}" in capped.json()["detail"]
    assert len(_entries(roomy)) == count and _versions(roomy) == versions


def test_test_set_questions_get_the_limits_of_ask(roomy):
    for question, problem in (("x" * 2001, "the limit is 2000"), ("?!?", "letter or digit")):
        line = json.dumps({"question": question, "expected_question": "none"}).encode()
        response = roomy.post("/admin/test", content=line, headers=JSONL)
        assert response.status_code == 422 and problem in response.json()["detail"], response.text


def test_lengths_say_characters_and_admin_answers_are_not_cached(roomy):
    entry_id = _entries(roomy)[0]["id"]
    response = roomy.put(f"/faq/entries/{entry_id}", json={"source": "s" * 201}, headers=ADMIN)
    assert response.status_code == 422 and "201 characters long" in response.json()["detail"]
    assert "items" not in response.json()["detail"]
    feedback = roomy.post("/feedback", json={"entry_id": entry_id, "helpful": True, "comment": "c" * 3000})
    assert feedback.status_code == 422 and "characters" in feedback.json()["detail"]
    for path in ("/admin/review", "/faq/entries", "/admin/rule"):
        assert roomy.get(path, headers=ADMIN).headers["cache-control"] == "no-store", path
    assert "no-store" not in roomy.get("/sources").headers.get("cache-control", "")
