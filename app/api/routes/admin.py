from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool

from app.api.deps import AdminDep, JobsDep
from app.core.data import DataError, parse_dataset
from app.reindex_jobs import JobAlreadyRunning, JobState
from app.schemas import Problem, ReindexJob

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep])

UPLOAD_ORIGIN = Path("uploaded data")
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no X-API-Key header"},
    403: {"model": Problem, "description": "wrong key, or admin endpoints disabled (no ADMIN_API_KEY)"},
}


def _job(state: JobState) -> ReindexJob:
    return ReindexJob(**asdict(state))


@router.post(
    "/reindex",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReindexJob,
    responses={**ADMIN_ERRORS, 409: {"model": Problem}, 413: {"model": Problem}, 422: {"model": Problem}},
    openapi_extra={
        "requestBody": {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def reindex(request: Request, jobs: JobsDep) -> ReindexJob:
    """Re-index the FAQ from a JSONL body (one {"question", "answer", ...} object a line).

    The data is validated before anything changes (422 names the bad line); the job then runs
    in the service and swaps the collection alias when complete. Poll GET /admin/reindex/{id}.
    """
    body = await request.body()  # its size is limited by the app's BodySizeLimit
    try:
        text = body.decode("utf-8")
        # Parsing a big upload takes a moment: keep it off the event loop.
        dataset = await run_in_threadpool(parse_dataset, text.splitlines(), origin=UPLOAD_ORIGIN)
    except UnicodeDecodeError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the upload is not UTF-8 text") from None
    except DataError as exc:  # a bad line, or no entries at all
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    try:
        state = jobs.start(dataset)
    except JobAlreadyRunning as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return _job(state)


@router.get(
    "/reindex/{job_id}", response_model=ReindexJob, responses={**ADMIN_ERRORS, 404: {"model": Problem}}
)
def reindex_status(job_id: str, jobs: JobsDep) -> ReindexJob:
    """Progress, and the report or the error of a reindex job."""
    state = jobs.get(job_id)
    if state is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no reindex job '{job_id}'")
    return _job(state)
