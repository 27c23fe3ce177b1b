"""The web page at `/`: one HTML file and its script and style, all served from app/api/static
(no CDN: the page works where the service works, offline included)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
def page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")
