"""`faq migrate-store`: copy the embedded store of an earlier release (qdrant-client's local mode
at QDRANT_PATH) into Qdrant Edge, verify the copy, and keep the old files until told otherwise.

The copy is written to `edge.migrating/` beside the old files, checked point by point (every
collection: layout, metadata, count, ids, payloads, vectors; every alias), and only then renamed
to `edge/`, the folder the service opens: an interrupted migration leaves the old store as the
only one, and running the command again starts over.
"""

from __future__ import annotations

import logging
import math
import shutil
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from app.store.base import FaqStore, StoredPoint, StoreError
from app.store.client_engine import ClientStore
from app.store.edge_engine import STORE_DIR, EdgeStore, has_edge_store
from app.store.opening import LEGACY_FILES, has_legacy_store

logger = logging.getLogger(__name__)

PAGE = 500


class MigrationError(StoreError):
    """The store could not be migrated; the old store is untouched."""


@dataclass
class MigrationReport:
    path: Path
    collections: dict[str, int] = field(default_factory=dict)  # name -> points copied
    aliases: dict[str, str] = field(default_factory=dict)
    already_migrated: bool = False
    old_files: list[str] = field(default_factory=list)  # kept, or removed when asked
    removed_old: bool = False

    def to_record(self) -> dict:
        return {
            "path": str(self.path),
            "collections": self.collections,
            "aliases": self.aliases,
            "already_migrated": self.already_migrated,
            "old_files": self.old_files,
            "removed_old": self.removed_old,
        }


def _compact(point: StoredPoint) -> StoredPoint:
    """The point with its vectors as compact float32 arrays (a multivector's rows one after
    the other: a copy with other rows differs in length or values)."""
    return StoredPoint(
        point.id,
        {n: array("f", np.asarray(v, dtype=np.float32).ravel().tobytes()) for n, v in point.dense.items()},
        point.sparse,
        point.payload,
    )


def _same_vector(a: Sequence[float], b: Sequence[float], cosine: bool) -> bool:
    left, right = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if left.shape != right.shape:
        return False
    if cosine:  # an engine may store cosine vectors normalised: compare directions
        left, right = left / (np.linalg.norm(left) or 1.0), right / (np.linalg.norm(right) or 1.0)
    return bool(np.allclose(left, right, rtol=1e-5, atol=1e-6))


def _same_value(a: object, b: object) -> bool:
    """Payload values equal, floats to within a unit in the last place or so: Qdrant Edge reads
    JSON floats back with an error of one ULP in about one value in eight (measured: 464 of 4,000
    timestamps), which is no loss of meaning but is not `==`."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(a, b, rel_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _difference(old: StoredPoint, new: StoredPoint, cosine: bool) -> str | None:
    """What differs between a point and its copy (None: nothing)."""
    keys = sorted(
        k
        for k in {*old.payload, *new.payload}
        if k not in old.payload or k not in new.payload or not _same_value(old.payload[k], new.payload[k])
    )
    if keys:
        return f"payload differs ({', '.join(keys)})"
    if set(old.dense) != set(new.dense) or set(old.sparse) != set(new.sparse):
        return "vector names differ"
    for name in old.dense:
        if not _same_vector(old.dense[name], new.dense[name], cosine):  # type: ignore[arg-type]
            return f"vector '{name}' differs"
    for name, (indices, values) in old.sparse.items():
        copy_indices, copy_values = new.sparse[name]
        if list(indices) != list(copy_indices) or not np.allclose(values, copy_values, rtol=1e-5):
            return f"sparse vector '{name}' differs"
    return None


def copy_store(
    source: FaqStore, target: FaqStore, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy every collection and alias of `source` into the empty `target`; returns the points
    copied by collection. Versions of the FAQ get their search index built (sealed)."""
    copied: dict[str, int] = {}
    for name in source.collection_names():
        layout = source.layout(name)
        # Pooled in the target as it would pool them itself: records, and versions of its size.
        record = set(layout.dense) == {""}
        pooled = target.pool_max_points > 0 and (record or source.count(name) <= target.pool_max_points)
        target.create_collection(replace(layout, pooled=pooled))
        page: list[StoredPoint] = []
        count = 0
        for point in source.points(name, page=PAGE):
            page.append(point)
            if len(page) == PAGE:
                target.write_points(name, page)
                count += len(page)
                page = []
                if progress is not None:
                    progress(name, count)
        if page:
            target.write_points(name, page)
            count += len(page)
        if set(layout.dense) != {""}:  # a FAQ version, not a record collection
            target.seal(name)
        copied[name] = count
        if progress is not None:
            progress(name, count)
    for alias, collection in source.aliases().items():
        target.point_alias_to(alias, collection)
    return copied


def verify_copy(source: FaqStore, target: FaqStore) -> None:
    """Raise MigrationError naming the first difference between the two stores."""
    if source.collection_names() != target.collection_names():
        raise MigrationError(
            f"collections differ: {source.collection_names()} != {target.collection_names()}"
        )
    if source.aliases() != target.aliases():
        raise MigrationError(f"aliases differ: {source.aliases()} != {target.aliases()}")
    for name in source.collection_names():
        # Where the copy lives (a pool or a shard of its own) is the target's choice.
        old_layout, new_layout = source.layout(name), replace(target.layout(name), pooled=False)
        if replace(old_layout, pooled=False) != new_layout:
            raise MigrationError(f"{name}: layout differs: {old_layout} != {new_layout}")
        if source.count(name) != target.count(name):
            raise MigrationError(f"{name}: {source.count(name)} points, copy has {target.count(name)}")
        cosine = old_layout.distance == "cosine"
        # Held compactly (4-byte floats): a store of 100k points would otherwise take gigabytes
        # of Python floats here.
        old_points = {p.id: _compact(p) for p in source.points(name, page=PAGE)}
        for new in target.points(name, page=PAGE):
            old = old_points.pop(new.id, None)
            if old is None:
                raise MigrationError(f"{name}: point {new.id} is not in the original")
            difference = _difference(old, new, cosine)
            if difference is not None:
                raise MigrationError(f"{name}: point {new.id} differs from the original: {difference}")
        if old_points:
            raise MigrationError(f"{name}: {len(old_points)} points missing from the copy")


def _old_files(path: Path) -> list[Path]:
    return [path / name for name in LEGACY_FILES if (path / name).exists()]


def remove_old_store(path: Path) -> list[str]:
    removed = []
    for item in _old_files(path):
        if item.is_dir():
            shutil.rmtree(item)
        else:
            item.unlink()
        removed.append(str(item))
    return removed


def migrate_store(
    path: Path, *, remove_old: bool = False, progress: Callable[[str, int], None] | None = None
) -> MigrationReport:
    """Copy the local-mode store at `path` into Qdrant Edge in the same folder (see module doc)."""
    report = MigrationReport(path=path)
    if has_edge_store(path):
        report.already_migrated = True
        if not has_legacy_store(path):
            return report
        if remove_old:
            # Only once the Edge store exists, which a migration renames into place after verifying.
            report.old_files, report.removed_old = remove_old_store(path), True
        else:
            report.old_files = [str(p) for p in _old_files(path)]
        return report
    if not has_legacy_store(path):
        raise MigrationError(
            f"{path} holds no store of an earlier release (no meta.json and collection/ there)"
        )

    staging = path / f"{STORE_DIR}.migrating"
    shutil.rmtree(staging, ignore_errors=True)  # a migration that was interrupted starts over
    source = ClientStore.open_folder(path)
    try:
        target = EdgeStore(staging, description=f"Qdrant Edge store being written at {staging}")
        try:
            report.collections = copy_store(source, target, progress)
            report.aliases = source.aliases()
            verify_copy(source, target)
        except BaseException:
            target.close()
            shutil.rmtree(staging, ignore_errors=True)
            raise
        target.close()
    finally:
        source.close()
    staging.rename(path / STORE_DIR)
    logger.info("migrated %d collections of %s into Qdrant Edge", len(report.collections), path)
    if remove_old:
        report.old_files, report.removed_old = remove_old_store(path), True
    else:
        report.old_files = [str(p) for p in _old_files(path)]
    return report
