"""The FAQ's entries as stored, for reading: one entry, a page, all of them, the sources and an
example question. What reads the FAQ (the usage records, the review queue, the pages) uses this;
changing it is app.writes.live_entries, which extends it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from itertools import islice

from app.domain import follow_ups
from app.domain.entry import FaqEntry
from app.search.answers import EntryNotFound
from app.search.faq_search import FaqSearch

__all__ = ["EntryNotFound", "FaqEntries"]

# Sources change only with writes; other replicas' writes are seen after this many seconds.
SOURCES_TTL_SECONDS = 30.0
# Entries an export holds at once (with their follow-ups' questions, fetched together).
EXPORT_PAGE = 1000
# The asker's page's example question is the shortest of this many of the FAQ's entries.
EXAMPLE_POOL = 20


class FaqEntries:
    def __init__(self, search: FaqSearch):
        self.search = search
        self.store = search.store
        self.alias = search.alias
        self._sources: tuple[float, dict[str, int]] | None = None
        self._example: tuple[float, str | None] | None = None
        self._sources_lock = threading.Lock()

    # ---- reading ----------------------------------------------------------------------------
    def get(self, entry_id: str) -> FaqEntry:
        found = self.store.entries(self.alias, [entry_id])
        if entry_id not in found:
            raise EntryNotFound(f"no FAQ entry '{entry_id}'")
        return found[entry_id]

    def page(
        self, *, source: str | None, limit: int, cursor: str | None, text: str | None = None
    ) -> tuple[list[tuple[str, FaqEntry]], str | None]:
        """A page of entries in the store's order from `cursor`; with `text`, only those whose question,
        wordings or answer contain it (ignoring case): found by reading the FAQ page by page."""
        if self.store.resolve_alias(self.alias) is None:
            return [], None  # nothing indexed or added yet: an empty FAQ
        if not text:
            return self.store.scroll_entries(self.alias, source=source, limit=limit, cursor=cursor)
        needle = text.casefold()
        found: list[tuple[str, FaqEntry]] = []
        for pid, entry in self.store.each_entry(self.alias, source=source, cursor=cursor):
            if needle in " ".join((*entry.wordings, entry.answer)).casefold():
                if len(found) == limit:
                    return found, pid  # the next match starts the next page
                found.append((pid, entry))
        return found, None

    def each(self, source: str | None = None) -> Iterator[tuple[str, FaqEntry]]:
        """Every live entry (of `source`) with its id; none before anything is indexed."""
        if self.store.resolve_alias(self.alias) is None:
            return iter(())
        return self.store.each_entry(self.alias, source=source)

    def export(self, source: str | None = None) -> Iterator[FaqEntry]:
        """Every live entry (of `source`), in the data-file format's fields, its follow-ups
        written as their entries' questions (a file names entries by question: a reimport, whose
        entries get the ids of their content, finds them). Read once, EXPORT_PAGE entries at a
        time, with one fetch of the follow-ups a page names."""
        entries = self.each(source)
        while page := list(islice(entries, EXPORT_PAGE)):
            named = {i for _, entry in page for i in entry.follow_ups}
            yield from follow_ups.as_questions(page, self.questions_of(named))

    def questions_of(self, ids: Iterable[str]) -> dict[str, str]:
        """The question of each of these entries that exists (one fetch a thousand)."""
        wanted = sorted(set(ids))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 1000):
            part = self.store.entries(self.alias, wanted[start : start + 1000])
            found.update({i: entry.question for i, entry in part.items()})
        return found

    def sources(self) -> dict[str, int]:
        """Entries per source, for the page's filter (cached briefly; writes refresh it)."""
        with self._sources_lock:
            if self._sources is not None and time.monotonic() - self._sources[0] < SOURCES_TTL_SECONDS:
                return self._sources[1]
        counts = self.store.source_counts(self.alias) if self.store.resolve_alias(self.alias) else {}
        with self._sources_lock:
            self._sources = (time.monotonic(), counts)
        return counts

    def example_question(self) -> str | None:
        """A short question of this FAQ (the shortest of its first few), for the asker's page to
        show what can be asked; None for an empty FAQ. Cached with the sources."""
        with self._sources_lock:
            if self._example is not None and time.monotonic() - self._example[0] < SOURCES_TTL_SECONDS:
                return self._example[1]
        found = self.page(source=None, limit=EXAMPLE_POOL, cursor=None)[0]
        example = min((entry.question for _, entry in found), key=len, default=None)
        with self._sources_lock:
            self._example = (time.monotonic(), example)
        return example
