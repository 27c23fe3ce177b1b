"""The web pages: `/` for askers and `/admin` for the FAQ's owner, each one HTML file and its
script, with one style sheet, all served from app/api/static (no CDN: the pages work where the
service works, offline included)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
def page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.api_route("/admin", methods=["GET", "HEAD"])
def admin_page() -> FileResponse:
    """The owner's page. Public like `/`: it holds no data; it asks for the admin key and sends
    it with each call to the admin API."""
    return FileResponse(STATIC_DIR / "admin.html", media_type="text/html")
