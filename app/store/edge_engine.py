"""The embedded engine: Qdrant Edge, Qdrant's own Rust engine as an in-process library.

One Edge shard a collection, each in its own folder; Edge has no aliases, so an alias is an
entry of `aliases.json`, a file that is replaced whole (written beside, fsynced, renamed over,
folder fsynced), which makes a switch atomic: a reader sees the old version or the new one,
and a crash leaves one of them. Layout under QDRANT_PATH:

    edge/store.json                    marks the folder as this engine's store (format version)
    edge/aliases.json                  alias -> collection
    edge/.lock                         held by the one process that opens the store
    edge/collections/NAME/layout.json  vectors, distance, metadata (written after the shard)
    edge/collections/NAME/shard/       the Edge shard (segments, WAL)

A collection folder without layout.json is one that was being created when its process died;
it is listed as a version (so it is dropped as an orphan) but never opened.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe
from qdrant_client import models

from app.domain.entry import FaqEntry
from app.store.base import (
    CONTENT_ID,
    CollectionInfo,
    CollectionLayout,
    CollectionMissing,
    FaqStore,
    MissingVector,
    QueryVector,
    ScoredPoint,
    StoredPoint,
    StoreError,
    StoreUnavailable,
    VectorBatch,
    entry_from_payload,
    point_vectors,
)

logger = logging.getLogger(__name__)

STORE_FORMAT = 1
STORE_DIR = "edge"
# Collections up to this many points are searched exactly (brute force over every vector, a few
# milliseconds at 20k); larger segments get an HNSW graph when the index job seals a version.
# Chosen by `faq bench --scale` (docs/deployment.md, "Scale"): exact search keeps the decision rule's scores
# those it was fitted on, and costs under 3 ms a query up to here.
EXACT_SEARCH_POINTS = 20_000
HNSW_M = 16
HNSW_EF_CONSTRUCT = 100


class _Collection:
    """One open shard, its layout, and the lock its calls go through (an Edge shard's queries
    and writes hold the GIL; the lock keeps a drop or close from running under a query)."""

    def __init__(self, shard: qe.EdgeShard, layout: CollectionLayout, folder: Path):
        self.shard = shard
        self.layout = layout
        self.folder = folder
        self.lock = threading.RLock()
        self.closed = False


# Shards kept open at once; the least recently used beyond are closed. Each open shard holds
# about 70 memory maps and 12 MB: a process may have 65,530 maps (Linux's vm.max_map_count), and
# without a bound a store of some 900 FAQs (a shard each) failed its next allocation.
DEFAULT_MAX_OPEN = 400

# Where a shard's vectors live in memory. Edge's default reads every storage file into RAM when
# a shard is opened: a few MB of vectors in 32 MB chunk files cost about 130 MB a shard (measured:
# 1.0 MB created, 130 MB loaded), which a service of many FAQs (a shard each) cannot afford.
# Cold leaves them to the page cache: 2 MB a loaded shard, and the same query time once the
# pages are cached (8.5k points, top 50: p50 0.54-0.65 ms either way).
VECTOR_MEMORY = qe.Memory.Cold


def _edge_config(layout: CollectionLayout) -> qe.EdgeConfig:
    distance = qe.Distance.Cosine if layout.distance == "cosine" else qe.Distance.Dot
    max_sim = qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim)
    dense: qe.EdgeVectorParams | dict[str, qe.EdgeVectorParams] = {
        name: qe.EdgeVectorParams(
            size,
            distance,
            multivector_config=max_sim if name in layout.multi else None,
            memory=VECTOR_MEMORY,
        )
        for name, size in layout.dense.items()
    }
    if set(layout.dense) == {""}:
        dense = qe.EdgeVectorParams(layout.dense[""], distance, memory=VECTOR_MEMORY)
    largest = max(layout.dense.values(), default=1)
    # Edge's thresholds are in kilobytes of one named vector's storage.
    threshold_kb = max(1, EXACT_SEARCH_POINTS * largest * 4 // 1024)
    return qe.EdgeConfig(
        vectors=dense,
        sparse_vectors={
            name: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf, memory=VECTOR_MEMORY)
            for name in layout.sparse
        }
        or None,
        payload_memory=VECTOR_MEMORY,
        hnsw_config=qe.HnswIndexConfig(
            m=HNSW_M, ef_construct=HNSW_EF_CONSTRUCT, full_scan_threshold=threshold_kb
        ),
        optimizers=qe.EdgeOptimizersConfig(indexing_threshold=threshold_kb),
    )


def _write_json(path: Path, value: object) -> None:
    """Replace `path` with `value` atomically and durably: a reader (or a restart after a
    crash) finds the old content or the new, never a mix."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(value, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def _edge_vector(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, models.SparseVector):
        return qe.SparseVector(list(value.indices), [float(v) for v in value.values])
    return value


def _source_filter(source: str | None) -> qe.Filter | None:
    if not source:
        return None
    return qe.Filter(must=[qe.FieldCondition("source", match=qe.MatchValue(source))])


def _dense_of(vector: Any) -> dict[str, Any]:
    if isinstance(vector, dict):
        return vector
    return {"": vector} if vector is not None else {}


class EdgeStore(FaqStore):
    def __init__(
        self, root: Path, *, description: str, temporary: bool = False, max_open: int = DEFAULT_MAX_OPEN
    ):
        self.root = root
        self.embedded = True
        self.description = description
        self.max_open = max_open
        self._registry_lock = threading.RLock()  # the open-collection table, aliases, layouts
        # The open shards, least recently used first (app.store.edge_engine.DEFAULT_MAX_OPEN).
        self._open: OrderedDict[str, _Collection] = OrderedDict()
        root.mkdir(parents=True, exist_ok=True)
        (root / "collections").mkdir(exist_ok=True)
        self._lock_file = open(root / ".lock", "a+")  # noqa: SIM115 - held for the store's life
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise StoreUnavailable(
                f"the embedded Qdrant store at {root.parent} is in use by another process "
                "(is `faq serve` running? hand the job to it with --url)"
            ) from None
        marker = _read_json(root / "store.json", None)
        if marker is None:
            _write_json(root / "store.json", {"engine": "qdrant-edge", "format": STORE_FORMAT})
        elif marker.get("format") != STORE_FORMAT:
            self._release()
            raise StoreError(
                f"{root} holds a store of format {marker.get('format')}; this release reads {STORE_FORMAT}"
            )
        # This process alone holds the store (the lock above), so the aliases file is read
        # once and then kept here, written through on every switch: no file read per query.
        self._alias_map: dict[str, str] = dict(_read_json(root / "aliases.json", {}))
        if temporary:
            self._cleanup = weakref.finalize(self, shutil.rmtree, root.parent, True)

    @classmethod
    def open_folder(cls, path: Path, max_open: int = DEFAULT_MAX_OPEN) -> EdgeStore:
        """The Edge store of the folder QDRANT_PATH names (created when missing), keeping at
        most `max_open` shards open."""
        return cls(path / STORE_DIR, description=f"embedded Qdrant Edge store at {path}", max_open=max_open)

    @classmethod
    def temporary(cls) -> EdgeStore:
        """A store in a fresh temporary folder, removed when the store is closed or collected
        (for calibration, evaluation, studies and tests)."""
        folder = Path(tempfile.mkdtemp(prefix="faq-edge-"))
        return cls(folder / STORE_DIR, description="temporary Qdrant Edge store", temporary=True)

    def close(self) -> None:
        with self._registry_lock:
            for handle in list(self._open.values()):
                self._close_handle(handle)
            self._open.clear()
            self._release()
        cleanup = getattr(self, "_cleanup", None)
        if cleanup is not None:
            cleanup()

    def _release(self) -> None:
        if not self._lock_file.closed:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()

    @staticmethod
    def _close_handle(handle: _Collection) -> None:
        with handle.lock:
            if not handle.closed:
                handle.shard.flush()
                handle.shard.close()
                handle.closed = True

    # ---- folders, layouts, open shards -------------------------------------------------------
    def _folder(self, collection: str) -> Path:
        return self.root / "collections" / collection

    def _set_aliases(self, aliases: dict[str, str]) -> None:
        """Replace the aliases: the file first (durably, atomically), then the copy in memory."""
        _write_json(self.root / "aliases.json", aliases)
        self._alias_map = aliases

    def _handle(self, collection: str) -> _Collection:
        with self._registry_lock:
            handle = self._open.get(collection)
            if handle is not None:
                self._open.move_to_end(collection)
                return handle
            if self._lock_file.closed:
                raise StoreUnavailable(f"{self.description} is closed")
            folder = self._folder(collection)
            layout_record = _read_json(folder / "layout.json", None)
            if layout_record is None:
                raise CollectionMissing(
                    f"collection '{collection}' does not exist: "
                    "index the FAQ with `faq index`, or add entries"
                )
            layout = CollectionLayout(
                name=collection,
                dense=dict(layout_record["dense"]),
                distance=layout_record["distance"],
                sparse=tuple(layout_record.get("sparse", ())),
                metadata=dict(layout_record.get("metadata", {})),
                multi=tuple(layout_record.get("multi", ())),
            )
            try:
                shard = qe.EdgeShard.load(str(folder / "shard"))
            except Exception as exc:  # Edge reports every failure as a plain exception with a message
                raise StoreError(f"cannot open {collection} in {self.description}: {exc}") from exc
            handle = self._open[collection] = _Collection(shard, layout, folder)
            self._close_idle()
            return handle

    def _close_idle(self) -> None:
        """Close the least recently used shards beyond `max_open` that no call is using (one in
        use is skipped, never waited for: its caller may be waiting for this lock). A closed
        shard is opened again by its next call (app.store.edge_engine._locked_target)."""
        excess = len(self._open) - self.max_open
        for name in list(self._open)[:-1]:  # never the one just opened
            if excess <= 0:
                return
            handle = self._open[name]
            if not handle.lock.acquire(blocking=False):
                continue
            try:
                handle.shard.flush()
                handle.shard.close()
                handle.closed = True
            finally:
                handle.lock.release()
            del self._open[name]
            excess -= 1

    def _target(self, alias_or_collection: str) -> _Collection:
        """The collection an alias points at, or the collection of that name."""
        name = self._alias_map.get(alias_or_collection, alias_or_collection)
        return self._handle(name)

    def _locked_target(self, alias_or_collection: str) -> _Collection:
        """The open collection `alias_or_collection` names, its lock taken. An index job drops
        the version it replaced right after the switch, so a name read from the aliases just
        before can be gone by the time it is opened or locked: then the alias is read again
        (it points at the new version by then)."""
        for _ in range(5):
            try:
                handle = self._target(alias_or_collection)
            except CollectionMissing:
                if alias_or_collection not in self._alias_map:
                    raise
                continue  # the version read from the alias was dropped: read it again
            handle.lock.acquire()
            if not handle.closed:
                return handle
            handle.lock.release()  # dropped between the lookup and the lock
        raise CollectionMissing(f"collection '{alias_or_collection}' was dropped while being opened")

    @contextmanager
    def _holding(self, alias_or_collection: str) -> Iterator[_Collection]:
        handle = self._locked_target(alias_or_collection)
        try:
            yield handle
        except (StoreError, TypeError):
            raise
        except Exception as exc:  # Edge reports every failure as a plain exception with a message
            raise StoreError(f"{self.description}: {exc}") from exc
        finally:
            handle.lock.release()

    @contextmanager
    def _using(self, alias_or_collection: str) -> Iterator[qe.EdgeShard]:
        with self._holding(alias_or_collection) as handle:
            yield handle.shard

    def _write_layout(self, layout: CollectionLayout) -> None:
        _write_json(
            self._folder(layout.name) / "layout.json",
            {
                "dense": dict(layout.dense),
                "distance": layout.distance,
                "sparse": list(layout.sparse),
                "metadata": dict(layout.metadata),
                "multi": list(layout.multi),
            },
        )

    # ---- collections and aliases --------------------------------------------------------------
    def resolve_alias(self, alias: str) -> str | None:
        return self._alias_map.get(alias)

    def collection_info(self, alias: str) -> CollectionInfo:
        if self.resolve_alias(alias) is None:
            raise CollectionMissing(f"collection '{alias}' does not exist: index the FAQ with `faq index`")
        with self._holding(alias) as handle:
            count = handle.shard.count(qe.CountRequest(exact=True))
        names = [*handle.layout.dense, *handle.layout.sparse]
        return CollectionInfo(
            alias=alias, collection=handle.layout.name, points=count, vectors=tuple(sorted(names))
        )

    def versions(self, alias: str) -> list[str]:
        folder = self.root / "collections"
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.startswith(f"{alias}_v"))

    def create_collection(self, layout: CollectionLayout) -> None:
        folder = self._folder(layout.name)
        with self._registry_lock:
            if (folder / "layout.json").exists():
                raise StoreError(f"collection '{layout.name}' already exists in {self.description}")
            shutil.rmtree(folder, ignore_errors=True)  # a creation its process did not finish
            folder.mkdir(parents=True)
            try:
                shard = qe.EdgeShard.create(str(folder / "shard"), _edge_config(layout))
                # Keyword indexes: the page's source filter and facet, and "is this content stored".
                for key in ("source", CONTENT_ID) if set(layout.dense) != {""} else ():
                    shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword))
            except Exception as exc:
                shutil.rmtree(folder, ignore_errors=True)
                raise StoreError(f"cannot create {layout.name} in {self.description}: {exc}") from exc
            self._write_layout(layout)  # last: the collection exists once its layout does
            self._open[layout.name] = _Collection(shard, layout, folder)
            self._close_idle()

    def seal(self, collection: str) -> None:
        """Build the version's HNSW graph (when it is large enough to get one) and flush it.
        Edge's optimiser holds the GIL for the whole build (measured: a 2.5 s stall of every
        other thread at 8.5k points), so it runs in a child process on the closed shard while
        this process keeps answering from the live version."""
        with self._registry_lock:
            handle = self._handle(collection)
            self._close_handle(handle)
            del self._open[collection]
        child = subprocess.run(
            [sys.executable, "-m", "app.store.edge_optimize", str(handle.folder / "shard")],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            raise StoreError(
                f"building the search index of {collection} failed: {child.stderr.strip()[-500:]}"
            )
        self._handle(collection)  # open again, optimised

    def upsert(
        self,
        collection: str,
        entries: Sequence[FaqEntry],
        vectors: Mapping[str, VectorBatch],
        ids: Sequence[str] | None = None,
    ) -> None:
        point_ids = list(ids) if ids is not None else [entry.id for entry in entries]
        points = [
            qe.Point(
                point_id,
                {name: _edge_vector(value) for name, value in point_vectors(vectors, i).items()},
                {**entry.to_record(), CONTENT_ID: entry.id},
            )
            for i, (point_id, entry) in enumerate(zip(point_ids, entries, strict=True))
        ]
        with self._using(collection) as shard:
            shard.update(qe.UpdateOperation.upsert_points(points))

    def count(self, collection: str) -> int:
        with self._using(collection) as shard:
            return shard.count(qe.CountRequest(exact=True))

    def point_alias_to(self, alias: str, collection: str) -> str | None:
        with self._registry_lock:
            self._handle(collection)  # only an existing collection can be pointed at
            previous = self._alias_map.get(alias)
            self._set_aliases({**self._alias_map, alias: collection})
        return previous

    def drop(self, collection: str) -> None:
        with self._registry_lock:
            handle = self._open.pop(collection, None)
            if handle is not None:
                self._close_handle(handle)
            if collection in self._alias_map.values():
                self._set_aliases({a: c for a, c in self._alias_map.items() if c != collection})
            shutil.rmtree(self._folder(collection), ignore_errors=True)

    # ---- raw queries --------------------------------------------------------------------------
    def _request(
        self,
        handle: _Collection,
        vector: QueryVector,
        using: str,
        limit: int,
        source: str | None,
        with_payload: bool,
    ) -> qe.QueryRequest:
        if using not in handle.layout.dense and using not in handle.layout.sparse:
            raise MissingVector(f"collection '{handle.layout.name}' has no '{using}' vectors")
        return qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(_edge_vector(vector), using=using),
            filter=_source_filter(source),
            with_payload=with_payload,
            with_vector=False,
        )

    def query(
        self,
        alias: str,
        vector: QueryVector,
        using: str,
        *,
        limit: int,
        source: str | None = None,
        with_entries: bool = False,
    ) -> list[ScoredPoint]:
        with self._holding(alias) as handle:  # one version for the request and its answer
            points = handle.shard.query(self._request(handle, vector, using, limit, source, with_entries))
        return [
            ScoredPoint(str(p.id), float(p.score), entry_from_payload(p.payload) if with_entries else None)
            for p in points
        ]

    def query_batch(
        self,
        alias: str,
        vectors: Sequence[QueryVector],
        using: str,
        *,
        limit: int,
        sources: Sequence[str | None],
    ) -> list[list[ScoredPoint]]:
        with self._holding(alias) as handle:
            requests = [
                self._request(handle, vector, using, limit, source, False)
                for vector, source in zip(vectors, sources, strict=True)
            ]
            results = handle.shard.query_batch(qe.QueryBatchRequest(requests))
        return [[ScoredPoint(str(p.id), float(p.score)) for p in points] for points in results]

    def entries(self, alias: str, ids: Sequence[str]) -> dict[str, FaqEntry]:
        if not ids:
            return {}
        with self._using(alias) as shard:
            points = shard.retrieve(list(ids), with_payload=True, with_vector=False)
        return {str(p.id): entry_from_payload(p.payload) for p in points}

    def scroll_entries(
        self, alias: str, *, source: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[tuple[str, FaqEntry]], str | None]:
        with self._using(alias) as shard:
            points, following = shard.scroll(
                qe.ScrollRequest(
                    offset=cursor,
                    limit=limit,
                    filter=_source_filter(source),
                    with_payload=True,
                    with_vector=False,
                )
            )
        return [(str(p.id), entry_from_payload(p.payload)) for p in points], (
            None if following is None else str(following)
        )

    def _scroll(self, collection: str, with_vector: bool | list[str], page: int) -> Iterator[Any]:
        """Every point of `collection` with its payload, a page at a time (the lock is held for
        one page, never across the caller's work)."""
        offset = None
        while True:
            with self._using(collection) as shard:
                points, offset = shard.scroll(
                    qe.ScrollRequest(offset=offset, limit=page, with_payload=True, with_vector=with_vector)
                )
            yield from points
            if offset is None:
                return

    def metadata(self, collection: str) -> dict:
        with self._holding(collection) as handle:  # an alias: the version it points at, now
            return dict(handle.layout.metadata)

    def set_metadata(self, collection: str, values: Mapping[str, object]) -> None:
        with self._registry_lock:
            handle = self._handle(collection)
            # Every field of the layout but its metadata stays (a hand-built copy once lost `multi`).
            handle.layout = replace(handle.layout, metadata={**handle.layout.metadata, **values})
            self._write_layout(handle.layout)

    def delete_points(self, collection: str, ids: Sequence[str]) -> None:
        with self._using(collection) as shard:
            shard.update(qe.UpdateOperation.delete_points(list(ids)))

    def source_counts(self, alias: str) -> dict[str, int]:
        with self._using(alias) as shard:
            response = shard.facet(qe.FacetRequest("source", limit=1000, exact=True))
        # Edge's facet keeps a value whose points were all deleted, with a count of 0.
        return {str(hit.value): hit.count for hit in response.hits if hit.count > 0}

    # ---- record collections -------------------------------------------------------------------
    def _exists(self, collection: str) -> bool:
        return collection in self._open or (self._folder(collection) / "layout.json").exists()

    # ---- the primitives of app.store.base's shared algorithms ------------------------------
    def _has_collection(self, name: str) -> bool:
        return self._exists(name)

    def _retrieve(self, collection: str, ids: Sequence[str]) -> list[tuple[str, dict]]:
        with self._using(collection) as shard:
            points = shard.retrieve(list(ids), with_payload=True, with_vector=False)
        return [(str(p.id), dict(p.payload or {})) for p in points]

    def _having(
        self, collection: str, key: str, values: Sequence[str], *, limit: int
    ) -> list[tuple[str, dict]]:
        match = qe.Filter(must=[qe.FieldCondition(key, match=qe.MatchAny(list(values)))])
        with self._using(collection) as shard:
            points, _ = shard.scroll(
                qe.ScrollRequest(limit=limit, filter=match, with_payload=True, with_vector=False)
            )
        return [(str(p.id), dict(p.payload or {})) for p in points]

    def _scan(
        self, collection: str, vectors: bool | list[str], page: int
    ) -> Iterator[tuple[str, dict, dict[str, object]]]:
        for p in self._scroll(collection, vectors, page):
            yield str(p.id), dict(p.payload or {}), dict(_dense_of(p.vector))

    def _upsert_records(self, name: str, records: Sequence[tuple[str, np.ndarray, dict]]) -> None:
        points = [qe.Point(record_id, vector.tolist(), payload) for record_id, vector, payload in records]
        with self._using(name) as shard:
            shard.update(qe.UpdateOperation.upsert_points(points))

    def _set_lease(
        self,
        name: str,
        lease_id: str,
        payload: dict,
        *,
        holder: str | None = None,
        free_before: float | None = None,
    ) -> None:
        # One process holds an Edge store (the folder lock), so the shard's lock alone would do;
        # the conditional write keeps the contract of the server engine's.
        mine = [qe.FieldCondition("holder", match=qe.MatchValue(holder))] if holder is not None else []
        either: list[Any] = (
            [
                qe.FieldCondition("holder", match=qe.MatchValue("")),
                qe.FieldCondition("renewed", range=qe.RangeFloat(lt=free_before)),
            ]
            if free_before is not None
            else []
        )
        where = qe.Filter(must=[qe.HasIdCondition({lease_id}), *mine], should=either or None)
        with self._using(name) as shard:
            shard.update(qe.UpdateOperation.set_payload_by_filter(where, payload))

    def index_records(self, name: str, keys: Sequence[str]) -> None:
        with self._using(name) as shard:
            for key in keys:
                shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword))

    def count_records(
        self, name: str, key: str, *, where: Mapping[str, Sequence[str]] | None = None, limit: int = 100
    ) -> dict[str, int]:
        if not self._exists(name):
            return {}
        conditions: list[Any] = [
            qe.FieldCondition(k, match=qe.MatchAny(list(v))) for k, v in (where or {}).items()
        ]
        request = qe.FacetRequest(
            key, limit=limit, exact=True, filter=qe.Filter(must=conditions) if conditions else None
        )
        with self._using(name) as shard:
            response = shard.facet(request)
        return {str(hit.value): hit.count for hit in response.hits if hit.count > 0}

    # ---- the whole store, for copying it ------------------------------------------------------
    def aliases(self) -> dict[str, str]:
        return dict(self._alias_map)

    def collection_names(self) -> list[str]:
        folder = self.root / "collections"
        return sorted(p.name for p in folder.iterdir() if (p / "layout.json").exists())

    def layout(self, collection: str) -> CollectionLayout:
        return self._handle(collection).layout

    def points(self, collection: str, page: int = 500) -> Iterator[StoredPoint]:
        for p in self._scroll(collection, True, page):
            dense: dict[str, Any] = {}
            sparse: dict[str, tuple[list[int], list[float]]] = {}
            for name, value in _dense_of(p.vector).items():
                if isinstance(value, qe.SparseVector):
                    sparse[name] = (list(value.indices), [float(v) for v in value.values])
                elif value and isinstance(value[0], list):  # a multivector
                    dense[name] = [[float(v) for v in row] for row in value]
                else:
                    dense[name] = [float(v) for v in value]
            yield StoredPoint(str(p.id), dense, sparse, dict(p.payload or {}))

    def write_points(self, collection: str, points: Sequence[StoredPoint]) -> None:
        edge_points = []
        for p in points:
            vector: dict[str, Any] = {
                **p.dense,
                **{name: qe.SparseVector(i, v) for name, (i, v) in p.sparse.items()},
            }
            edge_points.append(qe.Point(p.id, vector[""] if set(vector) == {""} else vector, dict(p.payload)))
        with self._using(collection) as shard:
            shard.update(qe.UpdateOperation.upsert_points(edge_points))


def has_edge_store(path: Path) -> bool:
    return (path / STORE_DIR / "store.json").exists()
