"""Where an answer's time goes, by stage: a recorder that the code answering a batch of questions
reports its stages to (tokenising, each encoder, the lexical vectors, each store query, fusion
and the decision), and that the /ask worker and the request's middleware hand to the metrics
(`faq_ask_stage_seconds`). Outside a recorded batch a stage costs one context-variable read.

The stages of one request are HTTP and validation (the server's part and the route's before the
question is queued), the queue (waiting for the worker), the batch's own stages (shared by the
questions answered together), and the response (after the answer, until it is sent)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# The stages a batch reports, in the order they run.
TOKENIZE = "tokenize"
ENCODE_ANSWER = "encode_answer_side"
ENCODE_QUESTION = "encode_question_side"
ENCODE_BOTH = "encode_both_sides"  # one forward for both (app.encoding.servable.encode_both)
LEXICAL = "lexical_vectors"
STORE_ANSWER = "store_answer_side"
STORE_QUESTION = "store_question_side"
STORE_WORDINGS = "store_wordings"
STORE_LEXICAL = "store_lexical"
STORE_ENTRIES = "store_entries"
DECIDE = "fusion_and_decision"
# The stages of a request around its batch.
HTTP = "http_and_validation"
QUEUE = "queue"
RESPONSE = "response"

BATCH_STAGES = (
    TOKENIZE,
    ENCODE_ANSWER,
    ENCODE_QUESTION,
    ENCODE_BOTH,
    LEXICAL,
    STORE_ANSWER,
    STORE_QUESTION,
    STORE_WORDINGS,
    STORE_LEXICAL,
    STORE_ENTRIES,
    DECIDE,
)
STAGES = (HTTP, QUEUE, *BATCH_STAGES, RESPONSE)

_recorder: ContextVar[dict[str, float] | None] = ContextVar("stage_recorder", default=None)


@contextmanager
def recording() -> Iterator[dict[str, float]]:
    """Record the stages run in this context (this thread) into the dict yielded: seconds by
    stage, summed when a stage runs more than once."""
    found: dict[str, float] = {}
    token = _recorder.set(found)
    try:
        yield found
    finally:
        _recorder.reset(token)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as the stage `name` of the batch being recorded (none: not timed)."""
    found = _recorder.get()
    if found is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        found[name] = found.get(name, 0.0) + time.perf_counter() - started


def add(name: str, seconds: float) -> None:
    """Count `seconds` to the stage `name` (a stage timed in pieces)."""
    found = _recorder.get()
    if found is not None:
        found[name] = found.get(name, 0.0) + seconds
