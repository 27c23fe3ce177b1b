"""The micro-batcher: questions that arrive together are answered together.

Encoding dominates an answer's cost, and a transformer encodes sixteen short questions in not
much more time than one. So `/ask` does not encode its question itself: it queues it on its
FAQ's queue (`AskQueue`), and one worker thread (`AskWorker`, shared by every FAQ of the
service) takes what is queued, up to `max_batch` questions, encodes them in one forward per
encoder whichever FAQs they are for, searches each FAQ's store with its own questions
(`FaqSearch.ask_many`) and hands each request its answer.

- A lone question never waits for company: the worker waits up to `max_wait_ms` for more only
  while questions keep arriving faster than it answers them (the last batch left others
  queued), where a fuller batch is worth a millisecond or two.
- Each FAQ's queue is bounded: when it is full that FAQ's request is refused at once
  (Overloaded, a 503 with Retry-After) instead of waiting behind an ever longer line, and the
  other FAQs' queues are not affected.
- When several FAQs have questions waiting, a batch takes its share from each in turn (one
  FAQ's flood cannot crowd the others out of the batches).
- One thread for every FAQ, not one each: a thousand FAQs are a thousand queues, and the
  encoders always run on the same warm thread (measured: a thread per FAQ made a lone /ask
  about 1 ms slower at 1,000 FAQs, and held a thousand threads).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from app import timing
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
    queued: float = field(default_factory=time.perf_counter)


class AskQueue:
    """One FAQ's questions waiting for the worker: bounded, answered in arrival order."""

    def __init__(self, worker: AskWorker, search: FaqSearch, size: int, label: str):
        self.worker = worker
        self.search = search
        self.size = size
        self.label = label
        self.items: deque[_Pending] = deque()
        self.closed = False
        self.drained = threading.Condition(worker.lock)

    async def ask(self, question: Question) -> Answers:
        loop = asyncio.get_running_loop()
        pending = _Pending(question, loop, loop.create_future())
        self.worker.put(self, pending)
        return await pending.future

    def qsize(self) -> int:
        return len(self.items)

    def close(self, timeout: float = 10) -> None:
        """Stop taking questions; those queued are answered (waiting up to `timeout`), and
        what is left after that is failed with ShuttingDown: no request is left waiting."""
        self.worker.close_queue(self, timeout)


class AskWorker:
    def __init__(
        self,
        *,
        max_batch: int,
        max_wait_ms: float,
        metrics: Metrics | None = None,
    ):
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.metrics = metrics
        self.lock = threading.Lock()
        self._arrived = threading.Condition(self.lock)
        # Queues with questions waiting, in the order they are served (each at most once).
        self._ready: deque[AskQueue] = deque()
        self._queues: dict[int, AskQueue] = {}
        self._busy = False  # the last batch left questions queued: wait for company
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="ask-worker", daemon=True)
        self._thread.start()

    @classmethod
    def from_settings(cls, settings: ServingSettings, metrics: Metrics | None) -> AskWorker:
        return cls(max_batch=settings.batch_max_size, max_wait_ms=settings.batch_max_wait_ms, metrics=metrics)

    def queue(self, search: FaqSearch, size: int, label: str = "") -> AskQueue:
        """A new queue of at most `size` questions for `search` (`label`: its FAQ in /metrics)."""
        made = AskQueue(self, search, size, label)
        with self.lock:
            if self._stopping:
                raise ShuttingDown("the service is shutting down")
            self._queues[id(made)] = made
        if self.metrics is not None:
            self.metrics.track_queue(made.qsize, label)
        return made

    def put(self, queue: AskQueue, pending: _Pending) -> None:
        with self.lock:
            if queue.closed:
                raise ShuttingDown("the service is shutting down")
            if len(queue.items) >= queue.size:
                if self.metrics is not None:
                    self.metrics.overloaded.inc()
                raise Overloaded(f"{queue.size} questions are already waiting")
            if not queue.items:
                self._ready.append(queue)
            queue.items.append(pending)
            self._arrived.notify()

    def close_queue(self, queue: AskQueue, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.lock:
            queue.closed = True
            while queue.items and self._thread.is_alive():
                if not queue.drained.wait(timeout=max(0.0, deadline - time.monotonic())):
                    break
            left = list(queue.items)
            queue.items.clear()
            if queue in self._ready:
                self._ready.remove(queue)
            self._queues.pop(id(queue), None)
        if left:
            logger.warning("%d questions of '%s' not answered in time; failing them", len(left), queue.label)
        for pending in left:
            _settle(pending, error=ShuttingDown("the service stopped before answering"))
        if self.metrics is not None:
            self.metrics.untrack_queue(queue.label)

    def close(self, timeout: float = 10) -> None:
        """Every queue closed (its questions answered first), then the thread stopped."""
        with self.lock:
            queues = list(self._queues.values())
        for queue in queues:
            self.close_queue(queue, timeout)
        with self.lock:
            self._stopping = True
            self._arrived.notify()
        self._thread.join(timeout)

    # ---- the worker ---------------------------------------------------------------------------
    def _take(self) -> list[tuple[AskQueue, list[_Pending]]] | None:
        """The next batch, by queue (None: stopping). Waits for a first question; while busy,
        up to max_wait for more; then each waiting queue gives its share in turn."""
        with self.lock:
            while not self._ready and not self._stopping:
                self._arrived.wait()
            if not self._ready:
                return None
            if self._busy and self.max_wait > 0:
                deadline = time.monotonic() + self.max_wait
                while self._waiting() < self.max_batch and (left := deadline - time.monotonic()) > 0:
                    self._arrived.wait(timeout=left)
            taken: dict[int, tuple[AskQueue, list[_Pending]]] = {}
            room = self.max_batch
            while self._ready and room > 0:
                share = max(1, room // len(self._ready))
                queue = self._ready.popleft()
                part = [queue.items.popleft() for _ in range(min(share, len(queue.items)))]
                taken.setdefault(id(queue), (queue, []))[1].extend(part)
                room -= len(part)
                if queue.items:
                    self._ready.append(queue)  # its turn again after the others
            self._busy = bool(self._ready)
            return list(taken.values())

    def _waiting(self) -> int:
        return sum(len(queue.items) for queue in self._ready)

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            self._answer(batch)

    def _answer(self, batch: list[tuple[AskQueue, list[_Pending]]]) -> None:
        started = time.perf_counter()
        with timing.recording() as stages:
            for (queue, part), encoded in zip(batch, self._encode(batch), strict=True):
                try:
                    answers = queue.search.ask_many([p.question for p in part], encoded=encoded)
                except Exception as exc:  # every request of the part gets the error, the worker lives on
                    for pending in part:
                        _settle(pending, error=exc)
                else:
                    for pending, answer in zip(part, answers, strict=True):
                        _settle(pending, result=answer)
                with self.lock:
                    if not queue.items:
                        queue.drained.notify_all()
        if self.metrics is not None:
            self.metrics.batch_size.observe(sum(len(part) for _, part in batch))
            for _, part in batch:
                for pending in part:
                    self.metrics.stage_seconds.labels(timing.QUEUE).observe(started - pending.queued)
            self.metrics.stages(stages)
            self.metrics.sync()  # this worker's cache counts, as another may answer the scrape

    @staticmethod
    def _encode(
        batch: list[tuple[AskQueue, list[_Pending]]],
    ) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Each part's query vectors, one forward per encoder for all the parts that encode
        alike (the FAQs of a service share their encoders); None: the part encodes itself (its
        encoding failed here, and fails again there, with its own requests)."""
        groups: dict[object, list[int]] = {}
        for n, (queue, _) in enumerate(batch):
            groups.setdefault(queue.search.encoding_key(), []).append(n)
        encoded: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(batch)
        for members in groups.values():
            if len(members) == 1:
                continue  # its ask_many encodes it, in the same single forward
            texts = [p.question.text for n in members for p in batch[n][1]]
            try:
                answer_side, question_side = batch[members[0]][0].search.encode_questions(texts)
            except Exception:  # noqa: BLE001 - each part retries, and fails with its own requests
                continue
            start = 0
            for n in members:
                end = start + len(batch[n][1])
                encoded[n] = (answer_side[start:end], question_side[start:end])
                start = end
        return encoded


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
