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
from datetime import UTC, datetime

import numpy as np
from tqdm import tqdm

from app.domain import follow_ups
from app.domain.entry import unique_entries
from app.domain.records import FaqDataset
from app.encoding.priority import WriteEncoder
from app.search.faq_search import FaqSearch
from app.store.base import VERSION_KEY, FaqStore, StoreError

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
    # Built and kept, but not switched to (POST /admin/reindex?stage=true).
    staged: bool = False

    @property
    def entries_per_second(self) -> float:
        return self.indexed / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        # `version`: the name an admin asks, tests and activates it by.
        return {
            **asdict(self),
            "version": self.collection,
            "entries_per_second": round(self.entries_per_second, 1),
        }


def version_facts(origin: str, entries: int, *, staged: bool = False) -> dict:
    """What a finished version records about itself (metadata `version`)."""
    return {
        "finished": True,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "origin": origin,
        "entries": entries,
        "staged": staged,
    }


def prune_versions(store: FaqStore, alias: str, keep: int, *, spare: str | None = None) -> list[str]:
    """Drop the finished versions of `alias` beyond the newest `keep` (the live one and `spare`
    never); returns those dropped."""
    live = store.resolve_alias(alias)
    orphans = set(store.orphan_versions(alias))
    finished = [name for name in store.versions(alias) if name not in orphans]
    kept = {live, spare} | set(sorted(finished, reverse=True)[:keep])
    dropped = [name for name in finished if name not in kept]
    for name in dropped:
        store.drop(name)
        logger.info("dropped %s (FAQ_KEEP_VERSIONS=%d)", name, keep)
    return dropped


def index_dataset(
    dataset: FaqDataset,
    search: FaqSearch,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = True,
    on_batch: Callable[[int, int], None] | None = None,
    stage: bool = False,
    origin: str = "reindex",
    keep: int = 3,
    write_encoder: WriteEncoder | None = None,
) -> IndexReport:
    """Index `dataset` with `search`'s vectors into a new version of `search.alias` and switch
    to it (or, `stage`, keep it beside the live one without switching); the newest `keep`
    finished versions are kept for rollback, older ones dropped. `write_encoder`: the service's
    lower-priority encoding process (app.encoding.priority); without it, encoded here."""
    started = time.perf_counter()
    store, alias = search.store, search.alias
    writing = search.for_writes(write_encoder)  # the encoding at the writes' priority
    # Follow-ups named by question or id, as a file has them, become ids of this FAQ's entries
    # (FollowUpNotFound, before anything is written).
    entries = follow_ups.within(unique_entries(dataset.entries))
    collection = store.create_version(
        alias,
        search.vector_sizes(),
        search.settings.sparse_vectors,
        search.multivector_sizes(),
        expected_points=len(entries),
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
                vectors = writing.vectors_for(batch, batch_size)
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
        stored_dense = {name: np.concatenate(rows) for name, rows in dense.items()}
        rule = writing.fit_rule(entries, stored_dense)
        facts = version_facts(origin, len(entries), staged=stage)
        store.set_metadata(collection, {"decision": rule.to_record(), VERSION_KEY: facts})
        if stage:
            previous = store.resolve_alias(alias)
        else:
            previous = store.point_alias_to(alias, collection)
            search.forget_rule()
    except BaseException as exc:  # KeyboardInterrupt too: never leave a half-built version behind
        logger.error("indexing failed (%s); '%s' still serves the previous version", exc, alias)
        try:
            store.drop(collection)
        except StoreError:
            logger.warning("could not drop the unfinished collection %s", collection)
        raise
    # Versions left by a killed run are dropped; finished ones are kept up to `keep`.
    for old in store.orphan_versions(alias):
        if old != collection:
            store.drop(old)
    prune_versions(store, alias, keep, spare=collection)
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
        staged=stage,
    )
    logger.info(
        "indexed %d entries in %.1f s (%.0f entries/s)", report.indexed, seconds, report.entries_per_second
    )
    return report
