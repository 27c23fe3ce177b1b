"""Writes encode in a second process at a lowered CPU priority: the vectors are the ones the
service's own encoders give, only a write's encoding goes there, the service's live writes use
it, and a process that cannot start leaves the encoding where it was."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.encoding.priority import MIN_TEXTS, WriteEncoder
from app.encoding.sentence_encoder import default_model_path
from app.encoding.servable import Servable
from app.main import create_app
from tests.app.api.conftest import ADMIN_KEY, settings_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads niceness from /proc")

TEXTS = ["how do i renew a book?", "Books are renewed online, up to three times. " * 5] * (MIN_TEXTS // 2)


def niceness_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


@pytest.mark.slow  # a process started and stopped more than once: `make test-slow`
def test_a_writes_encoding_runs_in_a_lowered_process_with_the_same_vectors(trained_servable):
    servable = Servable.load(trained_servable, device="cpu", runtime="onnx")
    expected = servable.encode(TEXTS), servable.encode_question_side(TEXTS)
    encoder = WriteEncoder(niceness=5, threads=1, idle_stop_s=1.0)
    try:
        assert encoder.process_id() is None, "started by the first write, not before"
        writing = servable.for_writes(encoder)
        writing.encode(TEXTS[: MIN_TEXTS - 1])
        assert encoder.process_id() is None, "a few texts encode here"
        servable.encode(TEXTS)
        assert encoder.process_id() is None, "only the writes' servable encodes there"
        got = writing.encode(TEXTS), writing.encode_question_side(TEXTS)
        child = encoder.process_id()
        assert child is not None and child != os.getpid()
        assert niceness_of(child) == min(19, niceness_of(os.getpid()) + 5)
        assert np.abs(got[0] - expected[0]).max() < 1e-5 and np.abs(got[1] - expected[1]).max() < 1e-5
        assert servable.for_writes(None) is servable
        # stopped when no write came for idle_stop_s (it holds a second model); the next large
        # write starts it again (as the first did)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert encoder.process_id() is None and not Path(f"/proc/{child}").exists()
    finally:
        encoder.close()


# Starts and refuses encoding processes (six seconds): `make test-slow`.
@pytest.mark.slow
def test_no_process_at_equal_priority_and_none_that_cannot_start(tmp_path):
    model = tmp_path / "base-model"
    shutil.copytree(default_model_path(), model)
    servable = Servable.from_base_model(model, device="cpu")
    expected = servable.encode(TEXTS)
    same = WriteEncoder(niceness=0)
    assert np.array_equal(servable.for_writes(same).encode(TEXTS), expected) and same.process_id() is None
    shutil.rmtree(model)  # the process would load the model from here: it cannot
    broken = WriteEncoder(niceness=5, threads=1)
    try:
        got = servable.for_writes(broken).encode(TEXTS)
        assert np.abs(got - expected).max() < 1e-5, "encoded here instead, and the write goes on"
        assert broken.process_id() is None
    finally:
        broken.close()


def test_the_services_large_writes_encode_in_its_lowered_process(trained_servable, tmp_path):
    settings = settings_for(
        trained_servable, tmp_path / "qdrant", ADMIN_API_KEY=ADMIN_KEY, FAQ_WRITE_NICENESS="6"
    )
    admin = {"X-API-Key": ADMIN_KEY}
    one = {"question": "can i bring my dog into the reading room?", "answer": "Only assistance dogs."}
    many = [
        {"question": f"where is reading room {n}?", "answer": f"Room {n} is on floor {n % 4}."}
        for n in range(40)
    ]
    with TestClient(create_app(settings)) as client:
        encoder = client.app.state.services.write_encoder
        assert encoder.process_id() is None, "started by the first large write"
        created = client.post("/faq/entries", json=[one, *many], headers=admin)
        assert created.status_code == 201, created.text
        child = encoder.process_id()
        assert child is not None and niceness_of(child) == min(19, niceness_of(os.getpid()) + 6)
        for entry in (one, many[7]):
            answer = client.post("/ask", json={"question": entry["question"]}).json()["answers"][0]
            assert answer["question"] == entry["question"]
        # a reindex job encodes there too (its batches are large)
        body = "\n".join(json.dumps(e) for e in many).encode()
        job = client.post(
            "/admin/reindex", content=body, headers={**admin, "Content-Type": "application/x-ndjson"}
        )
        assert job.status_code == 202, job.text
        client.app.state.services.jobs.wait(60)
        status = client.get(f"/admin/reindex/{job.json()['id']}", headers=admin).json()
        assert status["status"] == "succeeded" and encoder.process_id() == child, status
        assert client.get("/ready").json()["points"] == len(many)
    assert not Path(f"/proc/{child}").exists(), "the process ends with the service"
