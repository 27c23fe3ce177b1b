"""The (re)index job: encode every FAQ entry into a new collection version, then swap the alias.

The alias keeps pointing at the previous version until the new one is complete and its point
count is verified, so searches never see a half-built index; a failed or interrupted run drops
its own version and leaves the previous one serving.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from app.domain.entry import unique_entries
from app.domain.records import FaqDataset
from app.search.faq_search import FaqSearch
from app.store.base import StoreError

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
    # The decision rule fitted to the indexed FAQ, stored with the collection version.
    decision: dict | None = None

    @property
    def entries_per_second(self) -> float:
        return self.indexed / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "entries_per_second": round(self.entries_per_second, 1)}


def index_dataset(
    dataset: FaqDataset,
    search: FaqSearch,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = True,
    on_batch: Callable[[int, int], None] | None = None,
) -> IndexReport:
    """Index `dataset` with `search`'s vectors into a new version of `search.alias`."""
    started = time.perf_counter()
    store, alias = search.store, search.alias
    entries = unique_entries(dataset.entries)
    collection = store.create_version(
        alias, search.vector_sizes(), search.settings.sparse_vectors, search.multivector_sizes()
    )
    logger.info("indexing %d entries into %s", len(entries), collection)
    try:
        # Writing a batch to Qdrant overlaps with encoding the next one (torch releases the GIL),
        # so the job runs at nearly the speed of encoding alone; at most one write is pending.
        with (
            tqdm(total=len(entries), unit="entry", desc="indexing", disable=not progress) as bar,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant-writer") as writer,
        ):
            pending: Future[None] | None = None
            dense: dict[str, list[np.ndarray]] = {name: [] for name in search.vector_sizes()}
            for start in range(0, len(entries), batch_size):
                batch = entries[start : start + batch_size]
                vectors = search.vectors_for(batch, batch_size)
                for name, rows in dense.items():
                    rows.append(np.asarray(vectors[name]))
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
        store.seal(collection)  # its search index built before it serves
        # The rule is fitted to this FAQ and kept with its version: it switches with it.
        logger.info("fitting the decision rule to the %d entries", len(entries))
        rule = search.fit_rule(entries, {name: np.concatenate(rows) for name, rows in dense.items()})
        store.set_metadata(collection, {"decision": rule.to_record()})
        previous = store.point_alias_to(alias, collection)
        search.forget_rule()
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
        decision=rule.to_record(),
    )
    logger.info(
        "indexed %d entries in %.1f s (%.0f entries/s)", report.indexed, seconds, report.entries_per_second
    )
    return report
