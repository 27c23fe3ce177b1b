"""The FAQ's versions, as its owner sees them: the finished index versions kept for rollback
(FAQ_KEEP_VERSIONS), staged ones built but not switched to, each with its last test-set
result; and activating one (a rollback, or publishing a staged version).

Activation moves the alias in one operation, as a reindex's switch does, so `/ask` answers
throughout, from the old version or the new. It is refused (VersionWorse, a 409 with both
results) when the version's last test result has fewer right answers than the live one's,
unless forced; a forced activation says so in the list.

Live entry changes are made to the live version only. A staged or older version is the FAQ as
it was built: activating it replaces the live one, live changes made since included (export
them first, or add them again); the versions list shows each version's entry count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from app.search.faq_search import Answers, Question
from app.store.base import VERSION_KEY, CollectionMissing
from app.writes.live_entries import LiveEntries

logger = logging.getLogger(__name__)


class VersionNotFound(LookupError):
    pass


class VersionWorse(RuntimeError):
    """The version answers the test set worse than the live one (both results attached)."""

    def __init__(self, message: str, candidate: dict, live: dict):
        super().__init__(message)
        self.candidate = candidate
        self.live = live


@dataclass(frozen=True)
class Version:
    name: str
    created: str | None
    entries: int
    origin: str
    live: bool
    staged: bool
    test: dict | None
    activated: dict | None

    def to_record(self) -> dict:
        return {
            "name": self.name,
            "created": self.created,
            "entries": self.entries,
            "origin": self.origin,
            "live": self.live,
            "staged": self.staged,
            "test": self.test,
            "activated": self.activated,
        }


class Versions:
    def __init__(self, entries: LiveEntries):
        self.entries = entries
        self.store = entries.store
        self.alias = entries.alias
        self.search = entries.search

    def all(self) -> list[Version]:
        """The finished versions, newest first (unfinished ones are a job's, listed by /ready)."""
        live = self.store.resolve_alias(self.alias)
        orphans = set(self.store.orphan_versions(self.alias))
        found = []
        for name in sorted(self.store.versions(self.alias), reverse=True):
            if name in orphans:
                continue
            try:
                meta = self.store.metadata(name)
                count = self.store.count(name)
            except CollectionMissing:
                continue  # dropped while listing
            facts = dict(meta.get(VERSION_KEY) or {})
            found.append(
                Version(
                    name=name,
                    created=facts.get("created"),
                    entries=count,
                    # a version from before versions were recorded: built by a reindex
                    origin=str(facts.get("origin", "reindex")),
                    live=name == live,
                    staged=bool(facts.get("staged")) and name != live,
                    test=meta.get("test"),
                    activated=facts.get("activated"),
                )
            )
        return found

    def get(self, name: str) -> Version:
        return _named(self.all(), name)

    def activate(self, name: str, *, force: bool = False, how: str = "rollback") -> Version:
        """Make `name` the live version (atomically). Refused when its last test result has
        fewer right answers than the live version's (unless `force`)."""
        self.get(name)  # a name that is no version of this FAQ: not found, whatever is running
        with self.entries.jobs.idle():  # no reindex may switch under it, in any process
            listed = self.all()
            candidate = _named(listed, name)
            current = next((v for v in listed if v.live), None)
            if candidate.live:
                return candidate
            if current is not None and candidate.test and current.test and not force:
                if int(candidate.test.get("right", 0)) < int(current.test.get("right", 0)):
                    raise VersionWorse(
                        f"{name} answers the test set worse than the live version {current.name} "
                        f"({candidate.test.get('right')} right against {current.test.get('right')}): "
                        "activate with force=true to switch anyway",
                        candidate.test,
                        current.test,
                    )
            facts = dict(self.store.metadata(name).get(VERSION_KEY) or {})
            facts["staged"] = False
            facts["activated"] = {
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "how": "staged version published" if candidate.staged else how,
                "forced": bool(force),
                "replaced": current.name if current else None,
            }
            self.store.set_metadata(name, {VERSION_KEY: facts})
            self.store.point_alias_to(self.alias, name)
        self.search.forget_rule()
        logger.info(
            "activated %s (was %s)%s", name, current.name if current else None, " (forced)" if force else ""
        )
        return self.get(name)

    def ask(self, name: str, question: Question) -> Answers:
        """`question` answered by the version `name` (a staged or older one), not recorded."""
        self.get(name)  # VersionNotFound for a name that is not a finished version
        return self.search.on(name).ask_many([question])[0]

    def resolve(self, name: str | None) -> str:
        """The finished version `name`, or the live one when None (VersionNotFound: neither)."""
        if name is None:
            name = self.store.resolve_alias(self.alias)
            if name is None:
                raise VersionNotFound("nothing is indexed yet: no version to test")
        return self.get(name).name

    def record_test(self, name: str, result: dict) -> None:
        """Keep a test-set result with its version (the last one counts)."""
        self.store.set_metadata(name, {"test": result})


def _named(versions: list[Version], name: str) -> Version:
    for version in versions:
        if version.name == name:
            return version
    raise VersionNotFound(f"no version '{name}' of the FAQ (GET /admin/versions lists them)")
