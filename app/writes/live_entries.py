"""Live changes to the FAQ: entries added, edited and deleted while the service runs.

This is the promise of metric learning over a classifier: a new entry is encoded (every vector
the search uses, by `FaqSearch.vectors_for`, exactly as the index job does) and written to the
collection the alias points at, and the next question can be answered by it. No retraining.

A full reindex from a data file builds a new collection and replaces the live one, so a change
written while a reindex runs would be lost at the swap: such changes are refused (ReindexRunning)
until the job has finished. Export the live entries first (`faq export`) to keep them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

from app.domain.entry import FaqEntry, unique_entries
from app.search.faq_search import FaqSearch
from app.writes.reindex_jobs import ReindexJobs, ReindexRunning

logger = logging.getLogger(__name__)

# Sources change only with writes; other replicas' writes are seen after this many seconds.
SOURCES_TTL_SECONDS = 30.0


class EntryNotFound(LookupError):
    pass


class LiveEntries:
    def __init__(self, search: FaqSearch, jobs: ReindexJobs):
        self.search = search
        self.store = search.store
        self.alias = search.alias
        self.jobs = jobs
        self._sources: tuple[float, dict[str, int]] | None = None
        self._sources_lock = threading.Lock()

    # ---- reading ----------------------------------------------------------------------------
    def get(self, entry_id: str) -> FaqEntry:
        found = self.store.entries(self.alias, [entry_id])
        if entry_id not in found:
            raise EntryNotFound(f"no FAQ entry '{entry_id}'")
        return found[entry_id]

    def page(
        self, *, source: str | None, limit: int, cursor: str | None
    ) -> tuple[list[tuple[str, FaqEntry]], str | None]:
        if self.store.resolve_alias(self.alias) is None:
            return [], None  # nothing indexed or added yet: an empty FAQ
        return self.store.scroll_entries(self.alias, source=source, limit=limit, cursor=cursor)

    def export(self, source: str | None = None, page_size: int = 500) -> Iterator[FaqEntry]:
        """Every live entry (of `source`), in the data-file format's fields."""
        cursor: str | None = None
        while True:
            page, cursor = self.page(source=source, limit=page_size, cursor=cursor)
            for _, entry in page:
                yield entry
            if cursor is None:
                return

    def sources(self) -> dict[str, int]:
        """Entries per source, for the page's filter (cached briefly; writes refresh it)."""
        with self._sources_lock:
            if self._sources is not None and time.monotonic() - self._sources[0] < SOURCES_TTL_SECONDS:
                return self._sources[1]
        counts = self.store.source_counts(self.alias) if self.store.resolve_alias(self.alias) else {}
        with self._sources_lock:
            self._sources = (time.monotonic(), counts)
        return counts

    # ---- writing ----------------------------------------------------------------------------
    def add(self, entries: Sequence[FaqEntry]) -> list[str]:
        """Encode and store `entries`; their ids (an entry's id is a function of its content, so
        adding the same entry twice stores it once)."""
        unique = unique_entries(entries)
        with self._writing() as collection:
            self.store.upsert(collection, unique, self.search.vectors_for(unique))
        logger.info("added %d FAQ entries to %s", len(unique), collection)
        self._refit_if_changed(collection)
        return [entry.id for entry in entries]

    def update(self, entry_id: str, changes: dict[str, str]) -> FaqEntry:
        """Edit an entry's fields; it keeps its id and is encoded anew."""
        with self._writing() as collection:
            edited = replace(self.get(entry_id), **changes)
            self.store.upsert(collection, [edited], self.search.vectors_for([edited]), ids=[entry_id])
        logger.info("edited FAQ entry %s in %s", entry_id, collection)
        return edited

    def delete(self, entry_id: str) -> FaqEntry:
        with self._writing() as collection:
            entry = self.get(entry_id)
            self.store.delete_points(collection, [entry_id])
        logger.info("deleted FAQ entry %s from %s", entry_id, collection)
        self._refit_if_changed(collection)
        return entry

    def _refit_if_changed(self, collection: str) -> None:
        """Fit the decision rule again when the FAQ has grown or shrunk enough since it was
        fitted (DecisionRule.needs_refit), from the stored vectors: the rule must fit the FAQ
        that is served, not the one first indexed. A failure keeps the old rule (logged): the
        write itself has succeeded."""
        try:
            count = self.store.count(collection)
            rule = self.search.decision_rule()
            if rule is not None and not rule.needs_refit(count):
                return
            entries, vectors = self.store.stored_vectors(collection, list(self.search.vector_sizes()))
            if not entries:
                return
            fitted = self.search.fit_rule(entries, vectors)
            self.store.set_metadata(collection, {"decision": fitted.to_record()})
            self.search.forget_rule()
            logger.info("decision rule refitted to the %d entries of %s", len(entries), collection)
        except Exception:  # the rule is an optimisation of answers; the write must stand
            logger.exception("could not refit the decision rule of %s; the previous one stays", collection)

    @contextmanager
    def _writing(self) -> Iterator[str]:
        """The context of one live change: no reindex may start or be running, and the change
        goes to the collection the alias points at (created for a FAQ's first entry)."""
        with self.jobs.idle():
            collection = self._target_collection()
            try:
                yield collection
            finally:
                with self._sources_lock:
                    self._sources = None

    def _target_collection(self) -> str:
        store, alias = self.store, self.alias
        # An index job in another process (against a Qdrant server) shows as a version that the
        # alias does not point at yet.
        building = store.orphan_versions(alias)
        if building:
            raise ReindexRunning(
                f"an index job is building {', '.join(building)}, which will replace the current "
                "FAQ: try again when it has finished (a version left by a killed job is dropped "
                "by the next finished index job)"
            )
        collection = store.resolve_alias(alias)
        if collection is not None:
            return collection
        collection = store.create_version(
            alias, self.search.vector_sizes(), self.search.settings.sparse_vectors
        )
        store.point_alias_to(alias, collection)
        logger.info("created %s for the first live entry of '%s'", collection, alias)
        return collection
