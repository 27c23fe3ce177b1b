"""Live FAQ management (admin): add, read, list, edit and delete entries while serving.

Changes are encoded with the loaded servable and written to the collection the alias points
at, so /ask sees them at once (app.writes.live_entries). Errors: 404 unknown id, 409 while a reindex
runs, 422 invalid entry (nothing written), 503 store unavailable (app.main's handlers).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import StreamingResponse

from app.api.deps import AdminDep, EntriesDep
from app.api.routes.admin import ADMIN_ERRORS
from app.api.schemas.common import Problem
from app.api.schemas.entries import (
    EntriesCreated,
    EntriesIn,
    EntryIn,
    EntryOut,
    EntryPage,
    EntryUpdate,
    EntryWarningOut,
    WordingsIn,
)
from app.domain.entry import MAX_QUESTION_CHARS, MAX_SOURCE_CHARS, FaqEntry, normalise_follow_ups
from app.search.entries import FaqEntries

router = APIRouter(prefix="/faq/entries", tags=["faq entries"], dependencies=[AdminDep])

WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ADMIN_ERRORS,
    409: {"model": Problem, "description": "a reindex is running, or the edit would duplicate another entry"},
    503: {"model": Problem, "description": "model or store unavailable"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "no entry with this id"}}
JSONL_MEDIA_TYPE = "application/x-ndjson"


def _faq_entry(item: EntryIn) -> FaqEntry:
    entry = FaqEntry(
        question=item.question,
        answer=item.answer,
        source=item.source,
        filename=item.filename,
        follow_ups=normalise_follow_ups(item.follow_ups),
    )
    return entry.with_alternates(item.alternates)


def _out(live: FaqEntries, entry_id: str, entry: FaqEntry, warnings: list | None = None) -> EntryOut:
    return EntryOut.of(entry_id, entry, warnings, live.questions_of(entry.follow_ups))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EntriesCreated, responses=WRITE_ERRORS)
def add_entries(body: EntriesIn, live: EntriesDep) -> EntriesCreated:
    """Add one entry (an object) or many (an array). Each is validated first: one bad entry
    and nothing is written. An entry gets the id of its content when created and keeps it
    through edits: adding content that is already stored returns that entry's id and stores
    nothing; an edited entry is never overwritten by its old content."""
    if not body.root:
        return EntriesCreated(ids=[])
    written = live.add_checked([_faq_entry(item) for item in body.root])
    return EntriesCreated(
        ids=written.ids,
        warnings=[EntryWarningOut.of(w) for w in written.warnings],
    )


@router.get("", response_model=EntryPage, responses={**ADMIN_ERRORS, 503: WRITE_ERRORS[503]})
def list_entries(
    live: EntriesDep,
    source: Annotated[str | None, Query(max_length=MAX_SOURCE_CHARS, description="Only this source.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Entries per page.")] = 100,
    cursor: Annotated[UUID | None, Query(description="`next_cursor` of the previous page.")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Only entries whose question, wordings or answer contain this."),
    ] = None,
    format: Annotated[
        Literal["json", "jsonl"],
        Query(description="`jsonl`: every entry (of `source`) in the data-file format, for export."),
    ] = "json",
):
    """A page of the live entries; or, with `format=jsonl`, all of them as a data file that
    `faq train` and `faq index` read (a full reindex replaces the live entries: export first)."""
    if format == "jsonl":
        return StreamingResponse(_jsonl(live.export(source)), media_type=JSONL_MEDIA_TYPE)
    page, following = live.page(source=source, limit=limit, cursor=str(cursor) if cursor else None, text=q)
    questions = live.questions_of(i for _, entry in page for i in entry.follow_ups)
    return EntryPage(
        entries=[EntryOut.of(pid, entry, None, questions) for pid, entry in page], next_cursor=following
    )


def _jsonl(entries: Iterator[FaqEntry]) -> Iterator[str]:
    for entry in entries:
        yield json.dumps(entry.to_record(), ensure_ascii=False) + "\n"


@router.get(
    "/{entry_id}",
    response_model=EntryOut,
    response_model_exclude_none=True,
    responses={**ADMIN_ERRORS, **NOT_FOUND},
)
def get_entry(entry_id: UUID, live: EntriesDep) -> EntryOut:
    return _out(live, str(entry_id), live.get(str(entry_id)))


@router.put("/{entry_id}", response_model=EntryOut, responses={**WRITE_ERRORS, **NOT_FOUND})
def edit_entry(entry_id: UUID, body: EntryUpdate, live: EntriesDep) -> EntryOut:
    """Change an entry's fields (the others are kept); it is encoded anew and keeps its id. An
    edit that would make it identical to another entry is a 409 naming that entry."""
    changes = body.model_dump(exclude_unset=True)
    if "follow_ups" in changes:
        changes["follow_ups"] = normalise_follow_ups(changes["follow_ups"])
    edited, warnings = live.update_checked(str(entry_id), changes)
    return _out(live, str(entry_id), edited, warnings)


@router.post("/{entry_id}/alternates", response_model=EntryOut, responses={**WRITE_ERRORS, **NOT_FOUND})
def add_wordings(entry_id: UUID, body: WordingsIn, live: EntriesDep) -> EntryOut:
    """Add wordings of the entry's question (what users asked): each is searched like the
    question from the next request on, no retraining; the entry keeps its id. Wordings it has
    already are kept once."""
    edited, warnings = live.add_wordings(str(entry_id), body.wordings)
    return _out(live, str(entry_id), edited, warnings)


@router.delete("/{entry_id}/alternates", response_model=EntryOut, responses={**WRITE_ERRORS, **NOT_FOUND})
def remove_wording(
    entry_id: UUID,
    live: EntriesDep,
    wording: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS, description="The wording.")],
) -> EntryOut:
    """Remove one wording (compared ignoring case and spacing); 404 when the entry has none
    such."""
    return _out(live, str(entry_id), live.remove_wording(str(entry_id), wording))


@router.delete("/{entry_id}", status_code=status.HTTP_204_NO_CONTENT, responses={**WRITE_ERRORS, **NOT_FOUND})
def delete_entry(entry_id: UUID, live: EntriesDep) -> Response:
    live.delete(str(entry_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
