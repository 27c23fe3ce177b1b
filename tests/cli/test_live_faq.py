"""Running a FAQ from the command line against a live `faq serve`: entries add/list/rm,
export, the unanswered questions, feedback pairs into `faq train --extra-pairs`, and entries
that survive a restart of the service."""

from __future__ import annotations

import json

import httpx
import pytest

from app.domain.records import load_faq
from tests.cli.conftest import start_service, stop_service
from tests.cli.test_main import run_faq
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


def test_feedback_pairs_train_and_never_enter_val(served, tmp_path):
    from training.split import split_entries
    from training.train import train

    url = served.url
    asked = [
        ("my bucket should be readable by everyone, how?", "can i make a bucket publicly readable?"),
        ("whats the biggest object i can store", "what is the maximum size of a single object in storage?"),
    ]
    for question, faq_question in asked:
        answer = httpx.post(f"{url}/ask", json={"question": faq_question}).json()["answers"][0]
        sent = httpx.post(
            f"{url}/feedback", json={"question": question, "entry_id": answer["id"], "helpful": True}
        )
        assert sent.status_code == 201
    pairs_file = tmp_path / "pairs.jsonl"
    out = run_faq("feedback", "export", "--output", str(pairs_file), env=served.env)
    assert out.returncode == 0, out.stderr
    pairs = load_faq(pairs_file).entries
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


@pytest.fixture
def own_service(trained_servable, tmp_path):
    from tests.app.api.conftest import index_into

    store = {"QDRANT_PATH": str(tmp_path / "qdrant")}
    index_into(tmp_path / "qdrant", trained_servable)
    return trained_servable, store


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
