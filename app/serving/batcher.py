"""The micro-batcher: questions that arrive together are answered together.

Encoding dominates an answer's cost, and a transformer encodes sixteen short questions in not
much more time than one. So `/ask` does not encode its question itself: it queues it, and one
worker thread takes whatever is queued (waiting at most `max_wait_ms` for company, up to
`max_batch` questions), answers them with `FaqSearch.ask_many` (one forward per encoder, one
store call per side) and hands each request its answer. The queue is bounded: when it is full
the request is refused at once (Overloaded, a 503 with Retry-After) instead of waiting behind
an ever longer line.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass

from app.config import ServingSettings
from app.search.faq_search import Answers, FaqSearch, Question
from app.serving.metrics import Metrics

logger = logging.getLogger(__name__)


class Overloaded(RuntimeError):
    """The queue is full: try again shortly."""


class ShuttingDown(Overloaded):
    """The service is stopping: the question was not taken (a 503, like Overloaded)."""


@dataclass
class _Pending:
    question: Question
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Answers]


_STOP = object()


class MicroBatcher:
    def __init__(
        self,
        search: FaqSearch,
        *,
        max_batch: int,
        max_wait_ms: float,
        queue_size: int,
        metrics: Metrics | None = None,
        queue_label: str = "",
    ):
        self.search = search
        self.queue_label = queue_label
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.metrics = metrics
        self._queue: queue.Queue[_Pending | object] = queue.Queue(maxsize=queue_size)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="ask-batcher", daemon=True)
        self._thread.start()
        if metrics is not None:
            metrics.track_queue(self._queue.qsize, queue_label)

    @classmethod
    def from_settings(
        cls, search: FaqSearch, settings: ServingSettings, metrics: Metrics | None, *, queue_label: str = ""
    ) -> MicroBatcher:
        return cls(
            search,
            max_batch=settings.batch_max_size,
            max_wait_ms=settings.batch_max_wait_ms,
            queue_size=settings.batch_queue_size,
            metrics=metrics,
            queue_label=queue_label,
        )

    async def ask(self, question: Question) -> Answers:
        if self._closed:
            raise ShuttingDown("the service is shutting down")
        loop = asyncio.get_running_loop()
        pending = _Pending(question, loop, loop.create_future())
        try:
            self._queue.put_nowait(pending)
        except queue.Full:
            if self.metrics is not None:
                self.metrics.overloaded.inc()
            raise Overloaded(f"{self._queue.maxsize} questions are already waiting") from None
        return await pending.future

    def close(self, timeout: float = 10) -> None:
        """Stop taking questions; the worker answers every question queued before the stop
        marker and after it, then ends. Whatever is still queued after that (the worker did not
        end in time) is failed with ShuttingDown: no request is left waiting."""
        self._closed = True
        if self.metrics is not None:
            self.metrics.untrack_queue(self.queue_label)
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            logger.warning("the batch queue did not drain; stopping without it")
        self._thread.join(timeout)
        for pending in self._drain():
            _settle(pending, error=ShuttingDown("the service stopped before answering"))

    def _drain(self) -> list[_Pending]:
        items: list[_Pending] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return items
            if isinstance(item, _Pending):
                items.append(item)

    def _take_batch(self, first: _Pending) -> tuple[list[_Pending], bool]:
        """`first` and what else is queued (or arrives within max_wait), up to max_batch."""
        batch = [first]
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True
            assert isinstance(item, _Pending)
            batch.append(item)
        return batch, False

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is _STOP:
                break
            assert isinstance(first, _Pending)
            batch, stop = self._take_batch(first)
            self._answer(batch)
        # Stopping: what was queued behind the stop marker is answered too, in batches.
        rest = self._drain()
        for start in range(0, len(rest), self.max_batch):
            self._answer(rest[start : start + self.max_batch])

    def _answer(self, batch: list[_Pending]) -> None:
        if self.metrics is not None:
            self.metrics.batch_size.observe(len(batch))
        try:
            answers = self.search.ask_many([pending.question for pending in batch])
        except Exception as exc:  # every request of the batch gets the error, the worker lives on
            for pending in batch:
                _settle(pending, error=exc)
            return
        for pending, answer in zip(batch, answers, strict=True):
            _settle(pending, result=answer)
        if self.metrics is not None:
            self.metrics.sync()  # this worker's cache counts, as another may answer the scrape


def _settle(pending: _Pending, result: Answers | None = None, error: BaseException | None = None) -> None:
    def apply() -> None:
        if pending.future.done():  # the request went away (client disconnected)
            return
        if error is not None:
            pending.future.set_exception(error)
        else:
            pending.future.set_result(result)  # type: ignore[arg-type]

    try:
        pending.loop.call_soon_threadsafe(apply)
    except RuntimeError:  # the event loop has closed (shutdown)
        pass
