"""Writes encode in a process of their own, at a lower CPU priority than questions.

A live write of 2,000 entries or a reindex encodes for tens of seconds; on a small machine that
encoding and the askers' share the same cores, and an asker notices every millisecond of it
where an admin waiting on a write does not. So the service's writes hand their encoding to a
second process (`WriteEncoder`), started on the first write, which loads the same servable and
runs with its priority lowered by FAQ_WRITE_NICENESS: when the CPU is idle it goes at full
speed, when questions need the cores the kernel gives them first.

Why a process and not a lowered thread: a thread of this process shares the interpreter lock
with the askers. Lowered, it is preempted while holding that lock as often as not, and then no
asker can run Python until the kernel gets round to it again; measured with
`benchmarks.write_stall` (2,000 entries written under 4 askers), /ask p99 went from 2.4x the
quiet p99 at equal priority to 6.5x with the thread lowered by 10 (docs/benchmarks.md).

Small writes (an edit, a few entries: under MIN_TEXTS texts at a time) encode here at once.
What goes to the process is the encoding of large ones only (texts in, vectors out); the store
is written, and duplicates checked, by the caller at normal priority. A write encodes with the
servable's `for_writes(encoder)` (the search's `for_writes`), which sends its encoding to the
process: nothing else does. Where the
process cannot help (a GPU, niceness 0) or fails to start, the encoding stays in the thread,
as before, with a log line: a write never fails because of where it encodes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol, TypeVar

import numpy as np

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Encodes(Protocol):
    """What the process needs of a servable: how to load it again there (`spec`, and the
    `from_spec` of its class), and its two encoders."""

    def spec(self) -> tuple[str, ...] | None: ...

    @classmethod
    def from_spec(cls, spec: Sequence[str]) -> Encodes: ...

    def encode(self, texts: Sequence[str], batch_size: int = ...) -> np.ndarray: ...

    def encode_question_side(self, texts: Sequence[str], batch_size: int = ...) -> np.ndarray: ...


# The process is stopped after this long without a write: it holds a second copy of the model
# (about as much memory as the service itself), worth it only while writes come.
IDLE_STOP_SECONDS = 120.0
# Fewer texts than this encode in this thread: tens of milliseconds, not worth a round trip, and
# an edit from the admin page never waits for the process to start.
MIN_TEXTS = 32


class WriteEncoder:
    """A second process, at lowered priority, that encodes for writes; `encode` is what a
    writes' servable (`Servable.for_writes`) calls."""

    def __init__(self, niceness: int, threads: int | None = None, idle_stop_s: float = IDLE_STOP_SECONDS):
        self.niceness = niceness
        self.threads = threads or os.cpu_count() or 1
        self.idle_stop_s = idle_stop_s
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._spec: tuple[str, ...] | None = None
        self._failed = False
        self._idle_timer: threading.Timer | None = None

    def encode(
        self, servable: Encodes, side: str, texts: Sequence[str], batch_size: int
    ) -> np.ndarray | None:
        """`texts` encoded on `side` ("answer" or "question") by the process; None: encode them
        in this thread (no process for this servable, or it could not be started)."""
        spec = servable.spec()
        if self.niceness <= 0 or spec is None or len(texts) < MIN_TEXTS:
            return None
        for _ in range(2):  # a second time when it was stopped as idle just as this write came
            pool = self._pool_for(type(servable).from_spec, spec)
            if pool is None:
                return None
            try:
                future = pool.submit(_encode_in_child, side, list(texts), batch_size)
            except RuntimeError:  # "cannot schedule new futures after shutdown"
                continue
            try:
                return future.result()
            except BrokenProcessPool:
                logger.warning("the write-encoding process ended; starting it again on the next write")
                with self._lock:
                    if self._pool is pool:
                        self._pool, self._spec = None, None
                return None
            finally:
                self._stop_when_idle()
        return None

    def process_id(self) -> int | None:
        """The process's id once started (for tests and logs)."""
        with self._lock:
            if self._pool is None:
                return None
            return self._pool.submit(os.getpid).result()

    def _pool_for(
        self, load: Callable[[Sequence[str]], Encodes], spec: tuple[str, ...]
    ) -> ProcessPoolExecutor | None:
        with self._lock:
            if self._failed:
                return None
            if self._pool is not None and self._spec == spec:
                return self._pool
            if self._pool is not None:  # another servable (a reload): a process for it
                self._pool.shutdown(wait=False, cancel_futures=True)
            logger.info("starting the write-encoding process (priority lowered by %d)", self.niceness)
            pool = ProcessPoolExecutor(
                max_workers=1,
                # spawn: a forked copy of a process running torch's thread pools can deadlock
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_child,
                initargs=(load, spec, self.niceness, self.threads),
            )
            try:
                pool.submit(os.getpid).result()  # loaded and ready, or the reason it is not
            except Exception as exc:
                pool.shutdown(wait=False, cancel_futures=True)
                self._failed = True
                logger.warning("writes encode in the service's own threads: %s: %s", type(exc).__name__, exc)
                return None
            self._pool, self._spec = pool, spec
            return pool

    def _stop_when_idle(self) -> None:
        """(Re)arm the timer that stops the process `idle_stop_s` after the last encoding."""
        with self._lock:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            self._idle_timer = threading.Timer(self.idle_stop_s, self._stop_idle)
            self._idle_timer.daemon = True
            self._idle_timer.start()

    def _stop_idle(self) -> None:
        with self._lock:
            pool, self._pool, self._spec = self._pool, None, None
        if pool is not None:
            logger.info("stopping the write-encoding process (no write for %.0f s)", self.idle_stop_s)
            pool.shutdown(wait=True)  # a write that just took it keeps it until it is done

    def close(self) -> None:
        with self._lock:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


# ---- in the write-encoding process ----------------------------------------------------------
_child_servable: Encodes | None = None


def _start_child(
    load: Callable[[Sequence[str]], Encodes], spec: tuple[str, ...], niceness: int, threads: int
) -> None:
    """Lower this process's priority first (every thread it starts inherits it), then load the
    servable the service encodes with."""
    global _child_servable
    os.nice(niceness)
    import torch

    torch.set_num_threads(threads)
    _child_servable = load(spec)


def _encode_in_child(side: str, texts: list[str], batch_size: int) -> np.ndarray:
    servable = _child_servable
    assert servable is not None, "the initializer loads it"
    if side == "answer":
        return servable.encode(texts, batch_size=batch_size)
    return servable.encode_question_side(texts, batch_size=batch_size)
