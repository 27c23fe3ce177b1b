"""Running a FAQ from the command line against a live `faq serve`: entries add/list/rm,
export, the unanswered questions, feedback pairs into `faq train --extra-pairs`, and entries
that survive a restart of the service."""

from __future__ import annotations

import json

import httpx
import pytest

from app.domain.records import load_faq
from tests.cli.conftest import start_service, stop_service
from tests.cli.test_main import invoke, run_faq
from tests.conftest import MINI_FAQ, mini_config

ENTRY = ("--question", "how do i book a meeting room?", "--answer", "use the rooms tab of the intranet")


def test_entries_add_list_and_rm(served):
    env = served.env
    added = run_faq("entries", "add", *ENTRY, "--source", "office", env=env)
    assert added.returncode == 0, added.stderr
    entry_id = added.stdout.strip()
    asked = run_faq("ask", "how do i book a meeting room?", "--top-k", "1", env=env)
    assert "use the rooms tab" in asked.stdout
    listed = run_faq("entries", "list", "--source", "office", "--json", env=env)
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [entry_id]
    removed = run_faq("entries", "rm", entry_id, env=env)
    assert removed.returncode == 0 and f"deleted {entry_id}" in removed.stdout
    assert run_faq("entries", "list", "--source", "office", "--json", env=env).stdout.strip() == ""
    again = run_faq("entries", "rm", entry_id, env=env)
    assert again.returncode == 2 and "no FAQ entry" in again.stderr


def test_entries_add_from_a_bad_file_names_the_line_and_writes_nothing(served, tmp_path):
    bad = tmp_path / "new.jsonl"
    bad.write_text('{"question": "a?", "answer": "b"}\n{"question": "c?"}\n')
    before = httpx.get(f"{served.url}/ready").json()["points"]
    out = run_faq("entries", "add", "--file", str(bad), env=served.env)
    assert out.returncode == 2 and "line 2" in out.stderr and "answer" in out.stderr
    assert httpx.get(f"{served.url}/ready").json()["points"] == before
    no_key = {**served.env, "ADMIN_API_KEY": "wrong"}
    refused = run_faq("entries", "add", *ENTRY, env=no_key)
    assert refused.returncode == 2 and "403" in refused.stderr and "wrong API key" in refused.stderr


def test_export_writes_the_live_faq_as_a_data_file(served, tmp_path):
    output = tmp_path / "live" / "faq.jsonl"
    out = run_faq("export", "--output", str(output), env=served.env)
    assert out.returncode == 0, out.stderr
    exported = load_faq(output).entries
    assert len(exported) == httpx.get(f"{served.url}/ready").json()["points"]
    assert {e.id for e in load_faq(MINI_FAQ).entries} <= {e.id for e in exported}
    assert not list(output.parent.glob(".*partial"))


def test_unanswered_questions_show_in_the_cli(served):
    for question in ("what time does the canteen open?", "when does the canteen open"):
        assert httpx.post(f"{served.url}/ask", json={"question": question}).json()["answered"] is False
    out = run_faq("unanswered", env=served.env)
    assert out.returncode == 0, out.stderr
    assert "canteen" in out.stdout and "2" in out.stdout


# Trains on the feedback pairs (ten seconds): `make test-slow`; tests/training covers training.
@pytest.mark.slow
def test_feedback_pairs_train_and_never_enter_val(served, tmp_path):
    from app.domain.split import split_entries
    from training.train import train

    url = served.url
    asked = [
        ("my bucket should be readable by everyone, how?", "can i make a bucket publicly readable?"),
        ("whats the biggest object i can store", "what is the maximum size of a single object in storage?"),
    ]
    for question, faq_question in asked:
        answer = httpx.post(f"{url}/ask", json={"question": faq_question}).json()["answers"][0]
        sent = httpx.post(
            f"{url}/feedback",
            json={"question": question, "entry_id": answer["id"], "helpful": True, "picked": True},
        )
        assert sent.status_code == 201
    pairs_file = tmp_path / "pairs.jsonl"
    assert invoke("feedback", "export", "--output", str(pairs_file), env=served.env).returncode == 0
    assert load_faq_or_empty(pairs_file) == [], "not reviewed yet: no pairs"
    # the owner accepts each picked suggestion in the review queue (`faq review --accept`)
    listed = invoke("review", "--json", env=served.env)
    assert listed.returncode == 0, listed.stderr
    items = [json.loads(line) for line in listed.stdout.splitlines()]
    picked = [i for i in items if i["kind"] == "picked_suggestion"]
    assert {i["examples"][0] for i in picked} == {question for question, _ in asked}
    for item in picked:
        accepted = invoke("review", "--accept", item["id"], "--entry", item["entry_id"], env=served.env)
        assert accepted.returncode == 0 and "add_wording" in accepted.stdout, accepted.stderr
    out = run_faq("feedback", "export", "--output", str(pairs_file), env=served.env)
    assert out.returncode == 0, out.stderr
    pairs = load_faq_or_empty(pairs_file)
    assert {p.question for p in pairs} == {question for question, _ in asked}

    result = train(mini_config(tmp_path, epochs=1, calibrate=False, extra_pairs=pairs_file))
    meta = json.loads((result.servable / "faq_servable.json").read_text())
    split = split_entries(load_faq(MINI_FAQ).entries)
    val_answers = {e.answer for e in split.val}
    expected_added = sum(p.answer not in val_answers for p in pairs)
    assert meta["extra_pairs"] == {
        "added": expected_added,
        "duplicates": 0,
        "val_answers": len(pairs) - expected_added,
    }
    assert meta["val_pairs"] == len(split.val)  # the val split is the data file's, untouched
    assert meta["train_pairs"] == len(split.train) + expected_added


def load_faq_or_empty(path):
    return load_faq(path).entries if path.read_text().strip() else []


def test_import_into_the_service_and_wordings_from_the_cli(served, tmp_path):
    faq = tmp_path / "office.csv"
    faq.write_text(
        "category,question,answer,alternate\n"
        "office,where do i find the first aid kit?,next to the kitchen sink,first aid box\n"
        "office,how do i order a new monitor?,ask it desk with your manager's ok,\n",
        encoding="utf-8",
    )
    dry = invoke("import", str(faq), "--to-service", "--dry-run", env=served.env)
    assert (
        dry.returncode == 0 and "would be (merge): 2 added, 0 changed, 0 removed, 0 unchanged" in dry.stdout
    )
    applied = invoke("import", str(faq), "--to-service", env=served.env)
    assert applied.returncode == 0 and "import (merge): 2 added" in applied.stdout, applied.stderr
    again = invoke("import", str(faq), "--to-service", env=served.env)
    assert "0 added, 0 changed, 0 removed, 2 unchanged" in again.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer\nwhere is the printer?,\n", encoding="utf-8")
    refused = invoke("import", str(bad), "--to-service", env=served.env)
    assert refused.returncode == 2 and "row 2" in refused.stdout + refused.stderr
    assert "nothing imported" in refused.stderr
    answered = httpx.post(f"{served.url}/ask", json={"question": "first aid box"}).json()
    entry_id = answered["answers"][0]["id"]
    worded = invoke("entries", "add-wording", entry_id, "plasters please", env=served.env)
    assert worded.returncode == 0 and "2 wordings" in worded.stdout, worded.stderr
    after = httpx.post(f"{served.url}/ask", json={"question": "plasters please"}).json()
    assert after["status"] == "answered" and after["answers"][0]["id"] == entry_id
    both = invoke("import", str(faq), "--output", str(tmp_path / "x.jsonl"), "--to-service", env=served.env)
    assert both.returncode == 2 and "either --output" in both.stderr


def test_check_lists_close_entries_and_conflicts(tmp_path):
    faq = tmp_path / "faq.csv"
    faq.write_text(
        "question,answer\nhow do i renew a book?,online\nHow do I renew a book,at the desk\n"
        "how can i renew my books?,online\nwhere is the library?,main street\nbroken row?,\n",
        encoding="utf-8",
    )
    out = invoke("check", str(faq), env={"FAQ_SERVABLE": str(tmp_path / "none")})  # in-process: quick
    assert out.returncode == 0, out.stderr
    lines = " ".join(out.stdout.split())
    assert "row 6: invalid: field 'answer' must not be empty" in lines
    assert "row 3: the same question as row 2" in lines
    assert "row 4: very close to row 2" in lines
    assert "2 similar pairs" in lines and "1 conflict" in lines and "row 5:" not in lines


@pytest.fixture
def own_service(trained_servable, tmp_path):
    from tests.app.api.conftest import index_into

    store = {"QDRANT_PATH": str(tmp_path / "qdrant")}
    index_into(tmp_path / "qdrant", trained_servable)
    return trained_servable, store


@pytest.mark.slow  # a process started and stopped more than once: `make test-slow`
def test_an_added_entry_survives_a_restart(own_service):
    servable, store = own_service
    service = start_service(servable, store)
    try:
        added = run_faq("entries", "add", *ENTRY, env=service.env)
        entry_id = added.stdout.strip()
    finally:
        stop_service(service)
    service = start_service(servable, store)
    try:
        body = httpx.post(f"{service.url}/ask", json={"question": "how do i book a meeting room?"}).json()
        assert body["answers"][0]["id"] == entry_id
    finally:
        stop_service(service)


def test_a_test_set_from_the_cli(served, tmp_path):
    cases = tmp_path / "tests.csv"
    cases.write_text(
        "question,expected_question\n"
        "how do i create a storage bucket?,how do i create a storage bucket?\n"
        "what is the capital of australia?,none\n",
        encoding="utf-8",
    )
    out = invoke("test", str(cases), env=served.env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 questions: 2 right, 0 asked back with the right entry, 0 wrong, 0 declined" in " ".join(
        out.stdout.split()
    )
    wrong = tmp_path / "wrong.csv"
    wrong.write_text(
        "question,expected_question\n"
        "how do i create a storage bucket?,can i make a bucket publicly readable?\n",
        encoding="utf-8",
    )
    failed = invoke("test", str(wrong), env=served.env)
    assert failed.returncode == 1 and "wrong: 'how do i create a storage bucket?'" in failed.stdout


def test_many_faqs_and_their_keys_from_the_command_line(served, tmp_path):
    """`faq faqs create|list|delete`, `faq keys create|list|revoke`, and --faq / FAQ_NAME on
    the commands that work on one FAQ, against the running service."""
    env = served.env
    made = invoke("faqs", "create", "library", "--closed", env=env)
    assert made.returncode == 0 and "/faqs/library/" in made.stdout, made.stderr
    assert invoke("faqs", "create", "Library!", env=env).returncode == 2
    data = tmp_path / "library.csv"
    data.write_text(
        "category,question,answer\n"
        "loans,how many books can i borrow?,you can borrow up to twenty books at a time\n"
        "loans,how do i renew a loan?,renew loans online from your account page\n"
        "rooms,can i book a study room?,study rooms are booked at the front desk\n"
    )
    imported = invoke("import", str(data), "--to-service", "--replace", "--faq", "library", env=env)
    assert imported.returncode == 0, imported.stderr + imported.stdout
    # the FAQ is closed: asked with its key (sent as ADMIN_API_KEY by the CLI: here the service key)
    asked = invoke("ask", "how many books may i take out", "--faq", "library", "--url", served.url, env=env)
    assert asked.returncode == 0 and "twenty books" in asked.stdout, asked.stdout + asked.stderr
    default = invoke("ask", "how many books may i take out", "--url", served.url, env=env)
    assert "twenty books" not in default.stdout

    key = invoke("keys", "create", "--faq", "library", "--scope", "public", "--label", "site", env=env)
    assert key.returncode == 0, key.stderr
    secret = key.stdout.strip().splitlines()[0]
    public = httpx.post(
        f"{served.url}/faqs/library/ask",
        json={"question": "study room booking"},
        headers={"X-API-Key": secret},
    )
    assert public.status_code == 200 and public.json()["answers"]
    listed = invoke("keys", "list", "--json", env={**env, "FAQ_NAME": "library"})
    (record,) = json.loads(listed.stdout)
    assert record["scope"] == "public" and secret.startswith(record["prefix"]) and secret not in listed.stdout
    entries = invoke("entries", "list", "--json", env={**env, "FAQ_NAME": "library"})
    assert len(entries.stdout.splitlines()) == 3
    assert invoke("keys", "revoke", record["prefix"], "--faq", "library", env=env).returncode == 0
    assert (
        httpx.post(
            f"{served.url}/faqs/library/ask", json={"question": "study room"}, headers={"X-API-Key": secret}
        ).status_code
        == 403
    )

    faqs = {f["name"]: f for f in json.loads(invoke("faqs", "list", "--json", env=env).stdout)}
    assert faqs["library"]["entries"] == 3 and not faqs["library"]["open"] and faqs["default"]["default"]
    assert invoke("faqs", "delete", "library", "--yes", env=env).returncode == 0
    assert "library" not in invoke("faqs", "list", env=env).stdout
    gone = invoke("entries", "list", "--faq", "library", env=env)
    assert gone.returncode == 2 and "no FAQ named 'library'" in gone.stderr
