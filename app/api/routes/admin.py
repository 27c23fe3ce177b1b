from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from app.api.deps import (
    AdminDep,
    FeedbackDep,
    ImportDep,
    JobsDep,
    ReviewDep,
    ServicesDep,
    UnansweredDep,
    VersionsDep,
)
from app.api.schemas.admin import (
    ImportReport,
    InsightsOut,
    ReindexJob,
    ReviewAction,
    ReviewDone,
    ReviewItemOut,
    ReviewQueueOut,
    RowError,
    RuleOut,
    TestResult,
    VersionOut,
    VersionRefused,
    VersionsOut,
)
from app.api.schemas.common import Problem
from app.api.schemas.entries import EntryOut, EntryWarningOut
from app.api.schemas.feedback import UnansweredGroupOut, UnansweredResponse
from app.domain.entry import DataError
from app.domain.formats import FORMATS, format_of_content_type
from app.domain.records import parse_dataset
from app.search.faq_tests import read_test_set, run_test_set
from app.store.base import CollectionMissing
from app.usage.calibration import NothingToUndo
from app.usage.review import NotInItem
from app.usage.unanswered import DEFAULT_MIN_SIMILARITY
from app.writes.faq_import import ImportPlan, parse_rows
from app.writes.reindex_jobs import JobState
from app.writes.versions import VersionWorse

T = TypeVar("T")

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep])

UPLOAD_ORIGIN = FilePath("uploaded data")
UPLOAD_MEDIA_TYPES = (
    "application/x-ndjson",
    "application/json",
    "text/csv",
    "text/tab-separated-values",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "text/html",
    "text/markdown",
)
# An upload route's body, as OpenAPI shows it: a file in any of the readers' formats.
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "content": {media_type: {"schema": {"type": "string"}} for media_type in UPLOAD_MEDIA_TYPES},
        "required": True,
    }
}
FormatQuery = Annotated[
    str | None,
    Query(description=f"The body's format ({', '.join(FORMATS)}) when its Content-Type does not say."),
]
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no X-API-Key header"},
    403: {"model": Problem, "description": "wrong key, or admin endpoints disabled (no ADMIN_API_KEY)"},
}


async def _read_upload(request: Request, format: str | None, read: Callable[[bytes, str], T]) -> T:
    """The uploaded file read by `read(body, format)` off the event loop (a big upload takes a
    moment to parse); a file that cannot be read (unknown format, not UTF-8, a bad row) is a 422
    naming the problem. The body's size is limited by the app's BodySizeLimit."""
    body = await request.body()
    try:
        fmt = format_of_content_type(request.headers.get("content-type"), format)
        return await run_in_threadpool(read, body, fmt)
    except DataError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


def _job(state: JobState) -> ReindexJob:
    return ReindexJob(**asdict(state))


@router.post(
    "/reindex",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReindexJob,
    responses={**ADMIN_ERRORS, 409: {"model": Problem}, 413: {"model": Problem}, 422: {"model": Problem}},
    openapi_extra=UPLOAD_BODY,
)
async def reindex(
    request: Request,
    jobs: JobsDep,
    format: FormatQuery = None,
    stage: Annotated[
        bool,
        Query(
            description="Build the new version and keep it beside the live one, without switching "
            "(its name is the report's `version`: ask it, test it, then activate it)."
        ),
    ] = False,
) -> ReindexJob:
    """Re-index the FAQ from the file in the body: JSONL (one {"question", "answer", ...} object
    a line), JSON, CSV, TSV, Excel .xlsx, an HTML FAQ page or Markdown, by Content-Type or
    `?format=`.

    The data is validated before anything changes (422 names the bad row); the job then runs
    in the service and switches to the new index version when complete. Poll
    GET /admin/reindex/{id}.
    """
    dataset = await _read_upload(
        request, format, lambda body, fmt: parse_dataset(body, origin=UPLOAD_ORIGIN, fmt=fmt)
    )
    # start() takes the lock a live change holds while it encodes: never on the event loop.
    return _job(await run_in_threadpool(partial(jobs.start, dataset, stage=stage)))  # JobAlreadyRunning: 409


@router.get(
    "/reindex/{job_id}", response_model=ReindexJob, responses={**ADMIN_ERRORS, 404: {"model": Problem}}
)
def reindex_status(job_id: str, jobs: JobsDep) -> ReindexJob:
    """Progress, and the report or the error of a reindex job."""
    state = jobs.get(job_id)
    if state is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no reindex job '{job_id}'")
    return _job(state)


@router.get("/unanswered", response_model=UnansweredResponse, responses=ADMIN_ERRORS)
def unanswered(
    log: UnansweredDep,
    min_similarity: Annotated[
        float, Query(ge=0.0, le=1.0, description="How similar two questions must be to share a group.")
    ] = DEFAULT_MIN_SIMILARITY,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many groups.")] = 50,
) -> UnansweredResponse:
    """The questions the FAQ could not answer, grouped by similarity, most asked first: what
    to write next. Add an entry for a group (POST /faq/entries) and its questions are answered."""
    groups, questions = log.groups(min_similarity, limit)
    return UnansweredResponse(
        recording=log.enabled,
        questions=questions,
        groups=[UnansweredGroupOut(**asdict(group)) for group in groups],
    )


@router.delete("/unanswered", responses=ADMIN_ERRORS)
def clear_unanswered(log: UnansweredDep) -> dict[str, int]:
    """Forget every recorded unanswered question (after writing the entries they asked for)."""
    return {"deleted": log.clear()}


@router.delete("/feedback", responses=ADMIN_ERRORS)
def delete_feedback(
    feedback: FeedbackDep,
    ids: Annotated[
        list[UUID] | None, Query(alias="id", description="Only these feedback records (repeatable).")
    ] = None,
) -> dict[str, int]:
    """Delete feedback: every record, or those named by `id` (the `id` that POST /feedback and
    `pairs=false` return). Deleted helpful pairs no longer reach `faq feedback export`."""
    return {"deleted": feedback.delete(None if ids is None else [str(i) for i in ids])}


@router.get(
    "/feedback",
    responses={**ADMIN_ERRORS, 200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
)
def feedback_export(
    feedback: FeedbackDep,
    review: ReviewDep,
    pairs: Annotated[
        bool, Query(description="Helpful feedback as (question, answer) pairs in the data-file format.")
    ] = True,
) -> StreamingResponse:
    """The feedback as JSONL: by default the helpful pairs that `faq train --extra-pairs` reads,
    those whose question an owner accepted in the review queue (anyone can post feedback: it
    reaches training only once reviewed); with `pairs=false` every record (question, entry id,
    helpful, picked, comment, time)."""
    if pairs:
        accepted = review.accepted()
        lines = (
            json.dumps(entry.to_record(), ensure_ascii=False) + "\n" for entry in feedback.pairs(accepted)
        )
    else:
        lines = (
            json.dumps({**asdict(item), "entry": item.entry.to_record()}, ensure_ascii=False) + "\n"
            for item in feedback.all()
        )
    return StreamingResponse(lines, media_type="application/x-ndjson")


@router.get("/review", response_model=ReviewQueueOut, responses=ADMIN_ERRORS)
def review_queue(
    review: ReviewDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="Items to list.")] = 50,
    min_similarity: Annotated[
        float, Query(ge=0.0, le=1.0, description="How similar unanswered questions must be to share an item.")
    ] = DEFAULT_MIN_SIMILARITY,
) -> ReviewQueueOut:
    """What users asked that the FAQ did not answer well, most frequent first: groups of
    unanswered questions, suggestions users picked after being asked back, and answers they
    found not helpful; each with its nearest entries. Act on an item with
    POST /admin/review/{item_id}."""
    items = review.items(limit=limit, min_similarity=min_similarity)
    return ReviewQueueOut(items=[ReviewItemOut(**item.to_record()) for item in items])


@router.post(
    "/review/{item_id}",
    response_model=ReviewDone,
    response_model_exclude_none=True,
    responses={**ADMIN_ERRORS, 404: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem}},
)
def review_action(
    item_id: UUID,
    body: ReviewAction,
    review: ReviewDep,
    min_similarity: Annotated[
        float, Query(ge=0.0, le=1.0, description="The grouping the queue was listed with.")
    ] = DEFAULT_MIN_SIMILARITY,
) -> ReviewDone:
    """One action on a review item: `add_wording` (its questions answer with `entry_id` at
    once), `create_entry` (a new entry with `answer`, the item's question prefilled) or
    `dismiss`. The item's questions leave the queue and do not come back."""
    item = str(item_id)
    try:
        if body.action == "add_wording":
            wordings = body.wordings
            entry = review.add_wording(item, str(body.entry_id), wordings, min_similarity)
            questions = review.entries.questions_of(entry.follow_ups)
            out = EntryOut.of(str(body.entry_id), entry, None, questions)
            return ReviewDone(item=item, action=body.action, entry=out)
        if body.action == "create_entry":
            assert body.answer is not None  # checked by ReviewAction
            new_id, created, warnings = review.create_entry(
                item, body.answer, body.source, body.question, min_similarity
            )
            return ReviewDone(item=item, action=body.action, entry=EntryOut.of(new_id, created, warnings))
        return ReviewDone(item=item, action=body.action, dismissed=review.dismiss(item, min_similarity))
    except NotInItem as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


def _import_report(plan: ImportPlan, dry_run: bool, job: JobState | None = None) -> ImportReport:
    return ImportReport(
        mode=plan.mode,  # type: ignore[arg-type]  # one of MODES, checked by the query
        dry_run=dry_run,
        **plan.counts(),
        warnings=[EntryWarningOut.of(w) for w in plan.warnings],
        errors=[RowError(where=e.where, problem=e.problem) for e in plan.errors],
        ignored_columns=list(plan.ignored_columns),
        job=None if job is None else _job(job),
    )


@router.post(
    "/import",
    response_model=ImportReport,
    responses={
        **ADMIN_ERRORS,
        202: {"model": ImportReport, "description": "replace: the reindex job started"},
        409: {"model": Problem},
        413: {"model": Problem},
        422: {"model": ImportReport, "description": "invalid rows (nothing written), or an unreadable file"},
    },
    openapi_extra=UPLOAD_BODY,
)
async def import_faq(
    request: Request,
    importer: ImportDep,
    mode: Annotated[
        Literal["merge", "replace"], Query(description="merge into the FAQ, or replace it.")
    ] = "merge",
    dry_run: Annotated[bool, Query(description="Only say what would change.")] = False,
    stage: Annotated[
        bool, Query(description="replace only: build the new version and keep it, without switching.")
    ] = False,
    format: FormatQuery = None,
) -> JSONResponse:
    """Import a FAQ file (any format the data readers take) into the running FAQ. `merge`
    matches an entry by id or identical question: it adds what is new and changes what differs
    (wordings of both kept), removes nothing; `replace` makes the file the FAQ (a full reindex:
    `job` to follow, 202). Returns what is (or, with `dry_run=true`, would be) added, changed,
    removed and left unchanged, with warnings and errors by row. Any invalid row: nothing is
    written (422, the same report)."""
    parsed = await _read_upload(request, format, lambda body, fmt: parse_rows(body, fmt, str(UPLOAD_ORIGIN)))
    rows, invalid = parsed.rows, parsed.invalid
    if not rows and not invalid:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{UPLOAD_ORIGIN}: no FAQ entries")
    if stage and mode != "replace":
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "stage=true needs mode=replace (a merge changes the live FAQ)",
        )
    plan = await run_in_threadpool(importer.plan, rows, invalid, mode)
    plan.ignored_columns = parsed.ignored_columns
    if dry_run:
        return JSONResponse(_import_report(plan, True).model_dump(mode="json"))
    if plan.errors:
        report = _import_report(plan, False).model_dump(mode="json")
        report["detail"] = f"{len(plan.errors)} invalid rows: nothing written"
        return JSONResponse(report, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    result = await run_in_threadpool(partial(importer.apply, plan, str(UPLOAD_ORIGIN), stage=stage))
    code = status.HTTP_202_ACCEPTED if result.job is not None else status.HTTP_200_OK
    return JSONResponse(_import_report(plan, False, result.job).model_dump(mode="json"), status_code=code)


@router.get("/versions", response_model=VersionsOut, responses=ADMIN_ERRORS)
def list_versions(versions: VersionsDep) -> VersionsOut:
    """The FAQ's finished versions, newest first: the live one, staged ones, and older ones kept
    for rollback (FAQ_KEEP_VERSIONS), each with its entry count and last test-set result."""
    return VersionsOut(versions=[VersionOut(**v.to_record()) for v in versions.all()])


@router.post(
    "/versions/{name}/activate",
    response_model=VersionOut,
    responses={**ADMIN_ERRORS, 404: {"model": Problem}, 409: {"model": VersionRefused}},
)
def activate_version(
    name: Annotated[str, Path(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")],
    versions: VersionsDep,
    force: Annotated[bool, Query(description="Activate even if it answers the test set worse.")] = False,
):
    """Make this version the live FAQ, in one atomic switch (a rollback, or publishing a staged
    version); `/ask` answers throughout. Refused with 409 and both test results when its last
    test result has fewer right answers than the live version's (`force=true` overrides, and
    the list says so)."""
    try:
        return VersionOut(**versions.activate(name, force=force).to_record())
    except VersionWorse as exc:
        body = VersionRefused(detail=str(exc), version=exc.candidate, live=exc.live)
        return JSONResponse(body.model_dump(mode="json"), status_code=status.HTTP_409_CONFLICT)


@router.post(
    "/test",
    response_model=TestResult,
    responses={
        **ADMIN_ERRORS,
        404: {"model": Problem},
        409: {"model": Problem},
        413: {"model": Problem},
        422: {"model": Problem},
    },
    openapi_extra=UPLOAD_BODY,
)
async def test_set(
    request: Request,
    versions: VersionsDep,
    version: Annotated[
        str | None, Query(max_length=200, description="The version to test (default: the live one).")
    ] = None,
    format: FormatQuery = None,
) -> TestResult:
    """Run a FAQ test set (the body: `question`, and `expected_id` or `expected_question`, or
    `none`, a row) against a version: how many are answered right, asked back with the right
    entry, wrong, or declined, and each result. Kept with the version: activating a version
    that answers it worse than the live one is refused."""
    cases = await _read_upload(request, format, lambda body, fmt: read_test_set(body, fmt, "test set"))
    if not cases:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "test set: no cases")
    name = await run_in_threadpool(versions.resolve, version)  # VersionNotFound: 404
    try:
        result = await run_in_threadpool(run_test_set, versions.search.on(name), cases, name)
    except CollectionMissing:
        # Older versions are dropped by the reindex that makes them more than FAQ_KEEP_VERSIONS.
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"{name} was dropped while the test ran (a reindex replaced it): run the test again",
        ) from None
    summary = {k: v for k, v in result.items() if k != "results"}
    await run_in_threadpool(versions.record_test, name, summary)
    return TestResult(**result)


@router.get("/rule", response_model=RuleOut, responses=ADMIN_ERRORS)
def decision_rule(services: ServicesDep) -> RuleOut:
    """The decision rule in force, the FAQ's own, and what askers taught it: how many labels
    from how many clients moved which threshold (`from_askers`), and the rule before
    (`previous`, what POST /admin/rule/undo restores)."""
    return RuleOut(**services.calibration.state().to_record())


@router.post("/rule/refit", response_model=RuleOut, responses=ADMIN_ERRORS)
def refit_rule(services: ServicesDep) -> RuleOut:
    """Learn from the askers' labels now, rather than after the next feedback."""
    return RuleOut(**services.calibration.refit().to_record())


@router.post("/rule/undo", response_model=RuleOut, responses={**ADMIN_ERRORS, 409: {"model": Problem}})
def undo_rule(services: ServicesDep) -> RuleOut:
    """Back to the FAQ's own rule; the labels behind the change are set aside (the rule learns
    again from feedback given from now on). 409 when the rule is the FAQ's own already."""
    try:
        return RuleOut(**services.calibration.undo().to_record())
    except NothingToUndo as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


@router.get("/insights", response_model=InsightsOut, responses=ADMIN_ERRORS)
def insights(
    services: ServicesDep,
    days: Annotated[int, Query(ge=1, le=366, description="The last this many days (today included).")] = 30,
) -> InsightsOut:
    """What users asked: asks per day by outcome (answered, asked back, declined), the most
    asked entries, the most frequent unanswered questions, and feedback per entry. From the ask
    log (kept like the unanswered questions: nothing when FAQ_RECORD_QUESTIONS is off)."""
    return InsightsOut(**services.insights.report(days))
