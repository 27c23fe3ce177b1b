"""The ask log's writer: the batches of every FAQ's log written together from a thread of its
own, each to its own FAQ; a closed log (its FAQ deleted) written no more."""

from __future__ import annotations

import time

import pytest

from app.config import RecordingSettings
from app.search.answers import Answers
from app.search.faq_search import FaqSearch
from app.store.opening import scratch_store
from app.usage import ask_log
from app.usage.ask_log import AskLog, AskLogWriter


def _answers() -> Answers:
    return Answers(answers=[], suggestions=[], threshold=None, status="no_answer")


@pytest.fixture()
def logs(base_servable):
    store = scratch_store()
    writer = AskLogWriter(store)
    settings = RecordingSettings()
    made = [
        AskLog(FaqSearch(base_servable, store, f"faq--{name}"), settings, writer) for name in ("hr", "it")
    ]
    yield writer, made
    writer.close()
    store.close()


def test_every_faqs_batch_is_written_by_the_writer_to_its_own_log(logs, monkeypatch):
    writer, (hr, it) = logs
    for n in range(3):
        hr.record(f"hr question {n}", _answers())
    it.record("it question", _answers())
    assert list(hr.store.records(hr.name)) == [], "nothing written by the asks themselves"
    writer.flush()
    assert sorted(p["question"] for _, p, _ in hr.store.records(hr.name)) == [
        f"hr question {n}" for n in range(3)
    ]
    assert [p["question"] for _, p, _ in it.store.records(it.name)] == ["it question"]
    assert hr.counts("status", where={}, limit=10) == {"no_answer": 3}, "indexed and counted"


def test_a_full_batch_wakes_the_writer_at_once(logs, monkeypatch):
    monkeypatch.setattr(ask_log, "FLUSH_EVERY", 4)
    _, (hr, _) = logs
    for n in range(4):
        hr.record(f"question {n}", _answers())
    deadline = time.monotonic() + 10  # written by the writer's thread, well before FLUSH_SECONDS
    while len(list(hr.store.records(hr.name))) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(list(hr.store.records(hr.name))) == 4


def test_a_closed_log_is_flushed_and_written_no_more(logs):
    writer, (hr, it) = logs
    hr.record("before", _answers())
    hr.close()
    assert [p["question"] for _, p, _ in hr.store.records(hr.name)] == ["before"]
    hr._buffer.append(("6f1c8d1e-4a57-4bb0-9d0e-0c1b2f9b9c11", ask_log.NO_VECTOR, {"question": "after"}))
    writer.flush()
    assert [p["question"] for _, p, _ in hr.store.records(hr.name)] == ["before"]
