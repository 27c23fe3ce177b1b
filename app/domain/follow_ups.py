"""Follow-ups: the entries a FAQ offers after an answer ("what next"), named by their question
or their id. A file names them by question (what an owner writes: a "follow-up questions"
column, `|` between them) or by id; the store keeps ids, so an edited question keeps its
follow-ups, and an export writes questions again, so a file stays readable and a reimport
(whose entries get the ids of their content) finds them. Resolving is checked: a follow-up
that names no entry of the FAQ is an error naming both, never a dead button."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from app.domain.entry import DataError, FaqEntry, wording_key


class FollowUpNotFound(DataError):
    """A follow-up that names no entry of the FAQ, or the entry itself (a 422 naming both)."""


def is_entry_id(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def resolve(
    entries: Sequence[FaqEntry],
    ids: Sequence[str],
    *,
    known_ids: Callable[[Sequence[str]], set[str]],
    by_question: Callable[[], Mapping[str, str]],
    where: Callable[[int], str] = lambda n: "",
    problems: list[tuple[int, str]] | None = None,
) -> list[FaqEntry]:
    """`entries` (to be stored under `ids`) with their follow-ups as ids: each an id of one of
    them or of `known_ids` (those that exist in the FAQ), or a question of one of them or of
    `by_question` (the FAQ's questions by `wording_key`, asked for only when a question must be
    looked up). FollowUpNotFound names the first that is neither, or an entry's own; with
    `problems`, each entry's first problem is added there instead (entry index, message)."""
    own_ids = set(ids)
    own_questions = {wording_key(e.question): i for e, i in zip(entries, ids, strict=True)}
    wanted = {r for e in entries for r in e.follow_ups if is_entry_id(r) and r not in own_ids}
    existing = known_ids(sorted(wanted)) if wanted else set()
    looked_up: Mapping[str, str] | None = None
    resolved = []
    for n, (entry, entry_id) in enumerate(zip(entries, ids, strict=True)):
        found: list[str] = []
        for ref in entry.follow_ups:
            target: str | None = ref if ref in own_ids or ref in existing else None
            if target is None:
                key = wording_key(ref)
                target = own_questions.get(key)
                if target is None:
                    looked_up = by_question() if looked_up is None else looked_up
                    target = looked_up.get(key)
            problem = None
            if target is None:
                problem = (
                    f"the follow-up '{ref}' of '{entry.question}' is neither a question nor an "
                    "entry id of this FAQ"
                )
            elif target == entry_id:
                problem = f"'{entry.question}' cannot be its own follow-up"
            if problem is not None:
                if problems is None:
                    raise FollowUpNotFound(f"{where(n)}: {problem}" if where(n) else problem)
                problems.append((n, problem))
                break
            if target is not None and target not in found:
                found.append(target)
        resolved.append(replace(entry, follow_ups=tuple(found)))
    return resolved


def within(entries: Sequence[FaqEntry], where: Callable[[int], str] = lambda n: "") -> list[FaqEntry]:
    """`resolve` for a whole FAQ (a file indexed on its own): each entry under its content id,
    its follow-ups among its own entries."""
    return resolve(entries, [e.id for e in entries], known_ids=lambda _: set(), by_question=dict, where=where)


def as_questions(entries: Sequence[tuple[str, FaqEntry]], questions: Mapping[str, str]) -> list[FaqEntry]:
    """Entries with their follow-up ids written as the questions of those entries (`questions`:
    id -> question), for a file; a follow-up whose entry is gone is left out."""
    return [
        replace(entry, follow_ups=tuple(questions[i] for i in entry.follow_ups if i in questions))
        for _, entry in entries
    ]
