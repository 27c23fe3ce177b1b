"""Importing a FAQ file into the running FAQ: what it would add, change, remove and leave alone
(a dry run), and doing exactly that.

- **merge**: a file entry matches a live entry with the same content id (the same question,
  answer, source and page) or, failing that, the same question (by its words); a match whose
  fields differ is changed (it keeps its id; wordings of both are kept), a file entry without a
  match is added, and no live entry is removed. Applied as live changes.
- **replace**: the file becomes the FAQ; live entries the file does not match are removed.
  Applied as a full reindex (a new version, switched when complete: the guarantees of
  POST /admin/reindex).

A file with any invalid row writes nothing: the plan lists the errors by row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from app.domain import follow_ups
from app.domain.entry import DataError, FaqEntry, wording_key
from app.domain.formats import read_rows
from app.domain.records import FaqDataset, InvalidRow, records_from_rows
from app.search.duplicates import EntryWarning, warnings_against_store, warnings_among
from app.writes.live_entries import LiveEntries
from app.writes.reindex_jobs import JobState, ReindexJobs

logger = logging.getLogger(__name__)

MERGE, REPLACE = "merge", "replace"
# The most rows one import reads: a FAQ of this size encodes in minutes, a bigger file is
# refused before anything is encoded.
MAX_IMPORT_ROWS = 50_000
MODES = (MERGE, REPLACE)


class ImportRefused(ValueError):
    """The file has invalid rows: nothing is written (the plan says which)."""

    def __init__(self, plan: ImportPlan):
        first = plan.errors[0]
        super().__init__(f"{len(plan.errors)} invalid rows: nothing written ({first.where}: {first.problem})")
        self.plan = plan


@dataclass
class ImportPlan:
    mode: str
    # (where in the file, file entry, the id of the live entry it changes or None)
    added: list[tuple[str, FaqEntry]] = field(default_factory=list)
    changed: list[tuple[str, FaqEntry, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    warnings: list[EntryWarning] = field(default_factory=list)
    errors: list[InvalidRow] = field(default_factory=list)
    entries: list[FaqEntry] = field(default_factory=list)  # every valid file entry, in order
    ignored_columns: tuple[str, ...] = ()  # the file's columns that were not read

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "changed": len(self.changed),
            "removed": len(self.removed),
            "unchanged": self.unchanged,
        }


@dataclass(frozen=True)
class ImportResult:
    plan: ImportPlan
    applied: bool
    job: JobState | None = None  # a replace runs as a reindex job


@dataclass
class ParsedFile:
    """A FAQ file's rows as (where, entry), its invalid rows, and the columns not read."""

    rows: list[tuple[str, FaqEntry]]
    invalid: list[InvalidRow]
    ignored_columns: tuple[str, ...] = ()


def parse_rows(data: bytes, fmt: str, origin: str) -> ParsedFile:
    """Every row of the file as (where, entry), and the invalid ones (DataError when the file
    cannot be read at all)."""
    rows = read_rows(data, fmt, origin)
    if len(rows) > MAX_IMPORT_ROWS:
        raise DataError(f"{origin}: {len(rows):,} rows; an import takes at most {MAX_IMPORT_ROWS:,}")
    entries: list[tuple[str, FaqEntry]] = []
    invalid: list[InvalidRow] = []
    for row in rows:
        parsed, bad = records_from_rows([row], FaqEntry.from_record, origin=origin, skip_invalid=True)
        if bad:
            invalid.append(bad[0])
        else:
            entries.append((row.where, parsed[0]))
    return ParsedFile(entries, invalid, rows.ignored)


def _merged(live: FaqEntry, incoming: FaqEntry) -> FaqEntry:
    """`incoming`'s fields, with the wordings of both (a merge never loses a wording that was
    added to the live entry, e.g. through the review queue); its follow-ups when the file names
    some (an ordered list of buttons: the file's word on it), else the live entry's."""
    merged = incoming.with_alternates([*live.alternates, *incoming.alternates])
    return merged if incoming.follow_ups else replace(merged, follow_ups=live.follow_ups)


class FaqImport:
    def __init__(self, entries: LiveEntries, jobs: ReindexJobs):
        self.entries = entries
        self.jobs = jobs
        self.search = entries.search

    def plan(
        self, rows: Sequence[tuple[str, FaqEntry]], invalid: Sequence[InvalidRow], mode: str
    ) -> ImportPlan:
        if mode not in MODES:
            raise ValueError(f"unknown mode '{mode}': use merge or replace")
        plan = ImportPlan(mode=mode, errors=list(invalid))
        live = dict(self.entries.each())
        by_content = {entry.id: pid for pid, entry in live.items()}
        by_question: dict[str, str] = {}
        for live_id, live_entry in live.items():
            by_question.setdefault(wording_key(live_entry.question), live_id)
        matched: set[str] = set()
        seen: set[str] = set()
        for where, entry in self._with_follow_ups(rows, plan, live, by_content, by_question):
            if entry.id in seen:
                continue  # the file repeats an entry: once
            seen.add(entry.id)
            plan.entries.append(entry)
            found = by_content.get(entry.id) or by_question.get(wording_key(entry.question))
            if found is None or found in matched:
                plan.added.append((where, entry))
                continue
            pid = found
            matched.add(pid)
            target = _merged(live[pid], entry) if mode == MERGE else entry
            if target == live[pid]:
                plan.unchanged += 1
            else:
                plan.changed.append((where, target, pid))
        if mode == REPLACE:
            plan.removed = [pid for pid in live if pid not in matched]
        # Warnings encode every entry touched: only for a file that can be written (a file with
        # invalid rows is refused, and its owner fixes the rows first).
        plan.warnings = [] if plan.errors else self._warnings(plan)
        return plan

    def _with_follow_ups(
        self,
        rows: Sequence[tuple[str, FaqEntry]],
        plan: ImportPlan,
        live: dict[str, FaqEntry],
        by_content: dict[str, str],
        by_question: dict[str, str],
    ) -> list[tuple[str, FaqEntry]]:
        """The file's entries with their follow-ups as ids: of the file's own entries (under the
        id each will have: its live match's, else its content's), or (merge) of live entries; a
        follow-up that names neither is an invalid row of the plan."""
        if not any(entry.follow_ups for _, entry in rows):
            return list(rows)
        ids = [
            by_content.get(e.id) or by_question.get(wording_key(e.question)) or e.id
            if plan.mode == MERGE
            else e.id
            for _, e in rows
        ]
        problems: list[tuple[int, str]] = []
        resolved = follow_ups.resolve(
            [entry for _, entry in rows],
            ids,
            known_ids=lambda refs: {r for r in refs if r in live} if plan.mode == MERGE else set(),
            by_question=lambda: by_question if plan.mode == MERGE else {},
            problems=problems,
        )
        plan.errors += [InvalidRow(rows[n][0], problem) for n, problem in problems]
        return [(where, entry) for (where, _), entry in zip(rows, resolved, strict=True)]

    def _warnings(self, plan: ImportPlan) -> list[EntryWarning]:
        """Entries added or changed that are very close to another one: of the file, or live
        (only those: re-importing an unchanged FAQ encodes nothing)."""
        touched = [(where, entry, None) for where, entry in plan.added] + [
            (where, entry, pid) for where, entry, pid in plan.changed
        ]
        if not touched:
            return []
        entries = [entry for _, entry, _ in touched]
        vectors = self.entries.writing.wording_queries(entries)
        where = [w for w, _, _ in touched]
        own = [pid for _, _, pid in touched]
        found = [
            replace(w, where=where[w.index])
            for w in warnings_against_store(self.entries.store, self.entries.alias, entries, vectors, own)
            if plan.mode == MERGE or w.other_id not in plan.removed
        ]
        # An added entry will have its content id; a changed one keeps the live id.
        names = [pid or entry.id for entry, pid in zip(entries, own, strict=True)]
        found += warnings_among(entries, vectors, names, where)
        return sorted(found, key=lambda w: (w.index, w.other_id))

    def apply(self, plan: ImportPlan, origin: str = "import", *, stage: bool = False) -> ImportResult:
        """Make exactly the plan's changes; a plan with errors writes nothing (ImportRefused).
        `stage` (replace only): build the new version and keep it beside the live one."""
        if plan.errors:
            raise ImportRefused(plan)
        if stage and plan.mode != REPLACE:
            raise ValueError("only a replace can be staged (a merge changes the live FAQ entry by entry)")
        if plan.mode == REPLACE:
            job = self.jobs.start(FaqDataset(Path(origin), plan.entries), stage=stage, origin="import")
            logger.info("import (replace): reindex job %s started", job.id)
            return ImportResult(plan, applied=True, job=job)
        if plan.added:
            self.entries.add([entry for _, entry in plan.added])
        for _, entry, pid in plan.changed:
            self.entries.update(
                pid,
                {
                    "question": entry.question,
                    "answer": entry.answer,
                    "source": entry.source,
                    "filename": entry.filename,
                    "alternates": list(entry.alternates),
                    "follow_ups": list(entry.follow_ups),
                },
            )
        logger.info("import (merge): %s", plan.counts())
        return ImportResult(plan, applied=True)
