"""One tokenizer, several threads: the askers' encoding (padded batches) and a live write's
lexical vectors (no padding) share the encoder's tokenizer, whose padding setting is changed at
every call. Neither may see the other's: before the lock, about one encode in ten failed with
"Unable to create tensor" beside a lexical loop (a 500 for the asker)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from app.encoding.sentence_encoder import tokenizer_lock
from app.search.lexical import LexicalEncoder

SHORT_AND_LONG = ["a b", "one two three four five six seven eight"] * 3


def test_every_use_of_the_tokenizer_waits_for_the_one_in_progress(base_servable):
    lexical = LexicalEncoder(base_servable.tokenizer)
    for use in (lambda: lexical.documents(["renewing a book"]), lambda: base_servable.encode(["a b"])):
        finished = threading.Event()
        with tokenizer_lock(base_servable.tokenizer):  # another thread is tokenizing
            worker = threading.Thread(target=lambda use=use, finished=finished: (use(), finished.set()))
            worker.start()
            assert not finished.wait(0.3), "it tokenized while another thread was"
        assert finished.wait(30), "and it goes on once that one is done"
        worker.join()


@pytest.mark.slow
def test_encoding_beside_lexical_tokenizing_never_gets_a_ragged_batch(base_servable):
    """The race itself (without the lock: about one encode in ten fails here)."""
    lexical = LexicalEncoder(base_servable.tokenizer)
    expected = base_servable.encode(SHORT_AND_LONG)
    done = threading.Event()
    errors: list[str] = []
    tokenized = []

    def write_side() -> None:  # what a live write's lexical vectors do, as fast as it can
        while not done.is_set():
            tokenized.append(lexical.documents(["renewing a book online, up to three times"]))

    writer = threading.Thread(target=write_side)
    writer.start()
    try:
        for _ in range(100):
            try:
                got = base_servable.encode(SHORT_AND_LONG)
            except ValueError as exc:
                errors.append(str(exc)[:80])
                continue
            assert np.abs(got - expected).max() < 1e-5
    finally:
        done.set()
        writer.join()
    assert tokenized, "the two really ran side by side"
    assert errors == []
