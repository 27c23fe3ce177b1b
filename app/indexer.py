"""The (re)index job: encode every FAQ answer into a new collection version, then swap the alias.

The alias keeps pointing at the previous version until the new one is complete and its point
count is verified, so searches never see a half-built index; a failed or interrupted run drops
its own version and leaves the previous one serving.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from app.core.data import FaqDataset, FaqEntry, question_text
from app.core.servable import Servable
from app.core.store import ANSWER_VECTOR, QUESTION_VECTOR, FaqStore, SearchSettings, StoreError, point_id

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 256


class IndexJobError(StoreError):
    """The index job failed; the previous version of the collection is still serving."""


@dataclass(frozen=True)
class IndexReport:
    alias: str
    collection: str
    previous: str | None
    rows_read: int
    indexed: int
    skipped: int
    duplicates: int
    seconds: float

    @property
    def answers_per_second(self) -> float:
        return self.indexed / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "answers_per_second": round(self.answers_per_second, 1)}


def unique_entries(entries: Sequence[FaqEntry]) -> list[FaqEntry]:
    """One entry per point id, first occurrence wins (exact duplicates would share a point)."""
    seen: dict[str, FaqEntry] = {}
    for entry in entries:
        seen.setdefault(point_id(entry), entry)
    return list(seen.values())


def entry_vectors(
    servable: Servable, entries: Sequence[FaqEntry], search: SearchSettings, batch_size: int
) -> dict[str, np.ndarray]:
    """The named vectors stored for `entries` under `search`: the only place that decides
    which text each vector encodes and with which model."""
    vectors = {ANSWER_VECTOR: servable.encode([e.answer for e in entries], batch_size=batch_size)}
    if QUESTION_VECTOR in search.vectors:
        vectors[QUESTION_VECTOR] = servable.encode_question_side(
            [question_text(e, search.question_context) for e in entries], batch_size=batch_size
        )
    return vectors


def index_dataset(
    dataset: FaqDataset,
    servable: Servable,
    store: FaqStore,
    alias: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = True,
    on_batch: Callable[[int, int], None] | None = None,
    search: SearchSettings | None = None,
) -> IndexReport:
    """`search` overrides the servable's own search settings (evaluation compares settings)."""
    started = time.perf_counter()
    entries = unique_entries(dataset.entries)
    search = search or servable.search_settings
    vector_names = search.vectors
    collection = store.create_version(alias, servable.embedding_size, vector_names)
    logger.info("indexing %d answers into %s", len(entries), collection)
    try:
        # Writing a batch to Qdrant overlaps with encoding the next one (torch releases the GIL),
        # so the job runs at nearly the speed of encoding alone; at most one write is pending.
        with (
            tqdm(total=len(entries), unit="answer", desc="indexing", disable=not progress) as bar,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant-writer") as writer,
        ):
            pending: Future[None] | None = None
            for start in range(0, len(entries), batch_size):
                batch = entries[start : start + batch_size]
                vectors = entry_vectors(servable, batch, search, batch_size)
                if pending is not None:
                    pending.result()
                pending = writer.submit(store.upsert, collection, batch, vectors)
                bar.update(len(batch))
                if on_batch is not None:
                    on_batch(start + len(batch), len(entries))
            if pending is not None:
                pending.result()
        stored = store.count(collection)
        if stored != len(entries):
            raise IndexJobError(f"{collection} holds {stored} points, expected {len(entries)}")
        previous = store.point_alias_to(alias, collection)
    except BaseException as exc:  # KeyboardInterrupt too: never leave a half-built version behind
        logger.error("indexing failed (%s); '%s' still serves the previous version", exc, alias)
        try:
            store.drop(collection)
        except StoreError:
            logger.warning("could not drop the unfinished collection %s", collection)
        raise
    # Older versions (the one just replaced, and any left by a killed run) are no longer served.
    for old in store.versions(alias):
        if old != collection:
            store.drop(old)
    seconds = time.perf_counter() - started
    report = IndexReport(
        alias=alias,
        collection=collection,
        previous=previous,
        rows_read=dataset.rows_read,
        indexed=len(entries),
        skipped=len(dataset.invalid),
        duplicates=dataset.duplicates,
        seconds=round(seconds, 2),
    )
    logger.info(
        "indexed %d answers in %.1f s (%.0f answers/s)", report.indexed, seconds, report.answers_per_second
    )
    return report
