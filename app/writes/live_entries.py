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
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

from app.domain import follow_ups
from app.domain.entry import FaqEntry, unique_entries, wording_key
from app.encoding.priority import WriteEncoder
from app.search.duplicates import EntryWarning, warnings_against_store, warnings_among
from app.search.entries import EntryNotFound, FaqEntries
from app.search.faq_search import FaqSearch
from app.search.settings import QUESTION_VECTOR, WORDINGS_VECTOR
from app.store.base import VERSION_KEY, VectorBatch
from app.writes.index_job import version_facts
from app.writes.reindex_jobs import ReindexJobs, ReindexRunning

logger = logging.getLogger(__name__)

# Entries encoded and written at a time by a live add (the store is locked per chunk).
WRITE_CHUNK = 64


@dataclass(frozen=True)
class Written:
    """What a live add did: the ids of the entries in the order sent, and warnings about
    entries very close to another one (their `index` is the place in what was sent)."""

    ids: list[str]
    warnings: list[EntryWarning]


def _order(warning: EntryWarning) -> tuple[int, str]:
    return warning.index, warning.other_id


class ReindexNeeded(RuntimeError):
    """The live version cannot hold the change (made by an older release): a 409 saying so."""


class DuplicateEntry(ValueError):
    """The change would make an entry identical to another one (a 409 naming it)."""


class LiveEntries(FaqEntries):
    """The FAQ's entries, read (app.search.entries) and changed while the service runs."""

    def __init__(self, search: FaqSearch, jobs: ReindexJobs, write_encoder: WriteEncoder | None = None):
        super().__init__(search)
        # Where writes encode: the service's lower-priority process (app.encoding.priority), so
        # that a large write leaves the cores to the askers; in this thread without one.
        self.write_encoder = write_encoder
        self.writing = search.for_writes(write_encoder)
        self.jobs = jobs

    # ---- writing ----------------------------------------------------------------------------
    def add(self, entries: Sequence[FaqEntry]) -> list[str]:
        """`add_checked` without the warnings: the ids."""
        return self.add_checked(entries).ids

    def add_checked(self, entries: Sequence[FaqEntry]) -> Written:
        """Encode and store `entries`; their ids, and warnings about entries very close to
        another one (app.search.duplicates). What an id is: an entry gets the id of its
        content (uuid5) when created and keeps it through edits. Content that is already stored
        (under any id) is the same entry: its id is returned and nothing is written. Content
        whose id is held by an entry that was since edited to other content is a new entry, under
        a fresh id: the edited one is never overwritten."""
        unique = unique_entries(entries)
        warnings: list[EntryWarning] = []
        with self._writing() as (collection, keep_lease):
            held = self.store.ids_holding(collection, unique)
            taken = set(self._existing_ids(collection, [e.id for e in unique if e.id not in held]))
            new = [e for e in unique if e.id not in held]
            ids = {e.id: (f"{uuid.uuid4()}" if e.id in taken else e.id) for e in new}
            new = self._with_follow_ups(collection, new, [ids[e.id] for e in new])
            place = {e.id: n for n, e in enumerate(entries)}
            held_vectors = self._held_vectors(collection)
            written: list[np.ndarray] = []
            # In bounded chunks: the store is locked for one chunk at a time, so questions are
            # answered between them while a large batch is written.
            for start in range(0, len(new), WRITE_CHUNK):
                chunk = new[start : start + WRITE_CHUNK]
                if start:
                    keep_lease()  # a long write keeps other processes' jobs waiting
                vectors, wordings = self._encoded(collection, held_vectors, chunk)
                for warning in warnings_against_store(
                    self.store, self.alias, chunk, wordings, [None] * len(chunk)
                ):
                    warnings.append(replace(warning, index=place[chunk[warning.index].id]))
                written.extend(wordings)
                self.store.upsert(collection, chunk, vectors, ids=[ids[e.id] for e in chunk])
        # Entries of one batch against each other (the store check saw only earlier chunks).
        within = warnings_among(new, written, [ids[e.id] for e in new]) if len(new) > 1 else []
        seen = {(w.index, w.other_id) for w in warnings}
        for warning in within:
            moved = replace(warning, index=place[new[warning.index].id])
            if (moved.index, moved.other_id) not in seen:
                warnings.append(moved)
        logger.info(
            "added %d FAQ entries to %s (%d already there)", len(new), collection, len(unique) - len(new)
        )
        if new:
            self._refit_if_changed(collection, wordings_changed=any(e.alternates for e in new))
        return Written(
            [held.get(entry.id) or ids[entry.id] for entry in entries], sorted(warnings, key=_order)
        )

    def update(self, entry_id: str, changes: dict[str, object]) -> FaqEntry:
        """`update_checked` without the warnings: the edited entry."""
        return self.update_checked(entry_id, changes)[0]

    def update_checked(
        self, entry_id: str, changes: dict[str, object]
    ) -> tuple[FaqEntry, list[EntryWarning]]:
        """Edit an entry's fields (`alternates`: its whole list of wordings); it keeps its id
        and is encoded anew. An edit that would make it identical to another entry is refused
        (DuplicateEntry), not stored twice; one that makes it very close to another is made,
        with a warning."""
        for name in ("alternates", "follow_ups"):
            if name in changes:
                changes = {**changes, name: tuple(changes[name])}  # type: ignore[arg-type]
        return self._edit(entry_id, lambda entry: replace(entry, **changes))  # type: ignore[arg-type]

    def add_wordings(self, entry_id: str, wordings: Sequence[str]) -> tuple[FaqEntry, list[EntryWarning]]:
        """Add alternate wordings to an entry (those it has already are kept once); they answer
        at once, and the entry keeps its id."""
        return self._edit(entry_id, lambda entry: entry.with_alternates([*entry.alternates, *wordings]))

    def remove_wording(self, entry_id: str, wording: str) -> FaqEntry:
        """Remove one alternate wording (compared ignoring case and spacing)."""
        key = wording_key(wording)

        def without(entry: FaqEntry) -> FaqEntry:
            kept = [w for w in entry.alternates if wording_key(w) != key]
            if len(kept) == len(entry.alternates):
                raise EntryNotFound(f"entry {entry_id} has no wording '{wording}'")
            return entry.with_alternates(kept)

        return self._edit(entry_id, without)[0]

    def _edit(
        self, entry_id: str, change: Callable[[FaqEntry], FaqEntry]
    ) -> tuple[FaqEntry, list[EntryWarning]]:
        """Apply `change` to the stored entry within one live change (read, change and write
        under the write guard: two edits of one entry, such as two wordings added at once, never
        lose each other's work)."""
        with self._writing() as (collection, _):
            current = self.get(entry_id)
            edited = change(current)
            edited = edited.with_alternates(edited.alternates)
            if edited.follow_ups != current.follow_ups:
                (edited,) = self._with_follow_ups(collection, [edited], [entry_id])
            holder = self.store.ids_holding(collection, [edited]).get(edited.id)
            if holder is not None and holder != entry_id:
                raise DuplicateEntry(f"the edit would make entry {entry_id} identical to entry {holder}")
            held = self._held_vectors(collection)
            vectors, wordings = self._encoded(collection, held, [edited])
            warnings = warnings_against_store(self.store, self.alias, [edited], wordings, [entry_id])
            self.store.upsert(collection, [edited], vectors, ids=[entry_id])
        logger.info("edited FAQ entry %s in %s", entry_id, collection)
        if edited.alternates != current.alternates:
            self._refit_if_changed(collection, wordings_changed=True)
        return edited, warnings

    def _with_follow_ups(self, collection: str, entries: list[FaqEntry], ids: list[str]) -> list[FaqEntry]:
        """`entries` with their follow-ups as ids of this FAQ's entries (named by question or
        id; FollowUpNotFound names one that is neither)."""
        if not any(e.follow_ups for e in entries):
            return entries
        return follow_ups.resolve(
            entries,
            ids,
            known_ids=lambda refs: set(self.store.entries(collection, refs)),
            by_question=lambda: {
                wording_key(e.question): pid for pid, e in self.store.each_entry(collection)
            },
        )

    def _encoded(
        self, collection: str, held: set[str], entries: Sequence[FaqEntry]
    ) -> tuple[dict[str, VectorBatch], list[np.ndarray]]:
        """The vectors to store for `entries`, and each one's wordings on the question side (for
        the duplicate warnings): all the encoding of a change, in one call."""
        vectors = self._vectors(collection, held, entries)
        return vectors, self._wording_vectors(entries, vectors)

    def _wording_vectors(
        self, entries: Sequence[FaqEntry], vectors: Mapping[str, VectorBatch]
    ) -> list[np.ndarray]:
        """Each entry's wordings on the question side (its question first), from the vectors
        just encoded for it; a search without a question side encodes them here."""
        questions = vectors.get(QUESTION_VECTOR)
        alternates = vectors.get(WORDINGS_VECTOR)
        if isinstance(questions, np.ndarray):
            return [
                np.concatenate([questions[i : i + 1], *([alternates[i]] if alternates is not None else [])])
                for i in range(len(entries))
            ]
        return self.writing.wording_queries(entries)

    def _held_vectors(self, collection: str) -> set[str]:
        """The vector names `collection` was created with (read once a change)."""
        layout = self.store.layout(collection)
        return {*layout.dense, *layout.sparse}

    def _vectors(
        self, collection: str, held: set[str], entries: Sequence[FaqEntry]
    ) -> dict[str, VectorBatch]:
        """The vectors of `entries` that `collection` holds (`held`). A version indexed by a
        release before alternate wordings has no place for them: entries without wordings are
        written as before, and wordings are refused with what to do (ReindexNeeded)."""
        vectors = self.writing.vectors_for(entries)
        missing = [name for name in vectors if name not in held]
        if WORDINGS_VECTOR in missing and any(e.alternates for e in entries):
            raise ReindexNeeded(
                f"{collection} was indexed before entries had alternate wordings: run `faq index` "
                "(or POST /admin/reindex) once, with `faq export`'s file, to store wordings"
            )
        return {name: value for name, value in vectors.items() if name not in missing}

    def _existing_ids(self, collection: str, ids: list[str]) -> list[str]:
        return list(self.store.entries(collection, ids)) if ids else []

    def delete(self, entry_id: str) -> FaqEntry:
        """Delete an entry, and drop it from the follow-ups of the entries that offered it."""
        with self._writing() as (collection, _):
            entry = self.get(entry_id)
            self.store.delete_points(collection, [entry_id])
            offering = self.store.having_follow_up(collection, entry_id)
            for pid, other in offering.items():
                kept = [i for i in other.follow_ups if i != entry_id]
                self.store.set_payload(collection, pid, {"follow_ups": kept})
        logger.info(
            "deleted FAQ entry %s from %s (and from the follow-ups of %d entries)",
            entry_id,
            collection,
            len(offering),
        )
        self._refit_if_changed(collection)
        return entry

    def _refit_if_changed(self, collection: str, wordings_changed: bool = False) -> None:
        """Fit the decision rule again when the FAQ has grown or shrunk enough since it was
        fitted (DecisionRule.needs_refit), from the stored vectors: the rule must fit the FAQ
        that is served, not the one first indexed. A failure keeps the old rule (logged): the
        write itself has succeeded."""
        try:
            count = self.store.count(collection)
            rule = self.search.decision_rule()
            wordings = None
            if wordings_changed:  # the rule searches wordings too: count them (payloads only)
                wordings = sum(len(e.alternates) for _, e in self.store.each_entry(collection))
            if rule is not None and not rule.needs_refit(count, wordings):
                return
            entries, vectors = self.store.stored_vectors(collection, list(self.search.vector_sizes()))
            if not entries:
                return
            fitted = self.writing.fit_rule(entries, vectors)
            self.store.set_metadata(collection, {"decision": fitted.to_record()})
            self.search.forget_rule()
            logger.info("decision rule refitted to the %d entries of %s", len(entries), collection)
        except Exception:  # the rule is an optimisation of answers; the write must stand
            logger.exception("could not refit the decision rule of %s; the previous one stays", collection)

    def create_empty(self) -> str:
        """The FAQ's first version, empty, unless it has one: a new FAQ answers "no answer"
        (rather than "not indexed") before its entries arrive."""
        with self.jobs.idle():
            return self._target_collection()

    @contextmanager
    def _writing(self) -> Iterator[tuple[str, Callable[[], None]]]:
        """The context of one live change: no reindex may start or be running, and the change
        goes to the collection the alias points at (created for a FAQ's first entry); with it,
        the function that keeps the change's lease through a long write."""
        with self.jobs.idle() as keep_lease:
            collection = self._target_collection()
            try:
                yield collection, keep_lease
            finally:
                with self._sources_lock:
                    self._sources = None
                    self._example = None

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
        settings = self.search.settings
        collection = store.create_version(
            alias, self.search.vector_sizes(), settings.sparse_vectors, self.search.multivector_sizes()
        )
        # Finished at once: a version the askers were served from is kept for rollback when a
        # reindex replaces it, not dropped as one a killed index job left behind.
        store.set_metadata(collection, {VERSION_KEY: version_facts("live", 0)})
        store.point_alias_to(alias, collection)
        logger.info("created %s for the first live entry of '%s'", collection, alias)
        return collection
