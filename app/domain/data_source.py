"""Where the FAQ data file comes from: --data, else FAQ_DATA, else the public reference data
set, downloaded once and checked against its known checksum."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from app.config import DEFAULT_DOWNLOAD_PATH, DataSettings
from app.domain.entry import DataError

logger = logging.getLogger(__name__)

DATASET_URL = (
    "https://raw.githubusercontent.com/qdrant/dataset-cloud-platform-faq/master/cloud_faq_dataset.jsonl"
)
DATASET_SHA256 = "8cf31dd99e7935ece19cb38c7d2b27ad51ae68d1466a45182b38dc0ef13a008e"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_reference_dataset(target: Path = DEFAULT_DOWNLOAD_PATH, *, timeout: float = 30) -> Path:
    """Fetch the public cloud FAQ data set once, verify its checksum, and return its path."""
    if target.is_file() and _sha256(target) == DATASET_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading the reference FAQ data set from %s", DATASET_URL)
    try:
        with urllib.request.urlopen(DATASET_URL, timeout=timeout) as response:
            payload = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DataError(
            f"could not download the FAQ data set from {DATASET_URL} ({exc}); "
            "pass a local JSONL file with --data or set FAQ_DATA"
        ) from None
    if hashlib.sha256(payload).hexdigest() != DATASET_SHA256:
        raise DataError(
            f"the data set downloaded from {DATASET_URL} does not match its known checksum; "
            "pass a local JSONL file with --data or set FAQ_DATA"
        )
    # Write beside the target and rename, so a half-written file is never taken for the data.
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        tmp.write(payload)
    os.replace(tmp.name, target)
    return target


def resolve_data_path(explicit: str | os.PathLike[str] | None) -> Path:
    """--data, else FAQ_DATA, else the downloaded reference data set."""
    if explicit:
        return Path(explicit)
    configured = DataSettings().data
    if configured is not None:
        return configured
    return download_reference_dataset()
