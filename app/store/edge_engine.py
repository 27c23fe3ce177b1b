"""The embedded engine: Qdrant Edge, Qdrant's own Rust engine as an in-process library.

A collection is a shard of its own, or (pooled) a partition of a shard that every collection
of the same vectors shares: Qdrant's payload partitioning, one shard for the versions of many
small FAQs and one for their records, each point tagged with its collection's name under a
keyword index marked as the tenant key. A service of many FAQs then holds a few shards open,
not thousands (each holds about 66 memory maps and 12 MB). Which collections are pooled:
`FaqStore.create_version` (versions of at most `pool_max_points` entries) and every record
collection; larger versions keep a shard of their own.

Edge has no aliases, so an alias is an entry of `aliases.json`, a file that is replaced whole
(written beside, fsynced, renamed over, folder fsynced), which makes a switch atomic: a reader
sees the old version or the new one, and a crash leaves one of them. Layout under QDRANT_PATH:

    edge/store.json                    marks the folder as this engine's store (format version)
    edge/aliases.json                  alias -> collection
    edge/.lock                         held by the one process that opens the store
    edge/collections/NAME/layout.json  vectors, distance, metadata, its pool (written last)
    edge/collections/NAME/shard/       the collection's own Edge shard (segments, WAL)
    edge/pools/KEY/shard/              a pool's shard; KEY names the vectors its collections have
    edge/pools/KEY/pool.json           written once the pool's shard and indexes exist

A collection folder without layout.json is one that was being created when its process died;
it is listed as a version (so it is dropped as an orphan) but never opened. A pooled collection
being dropped is renamed `.dropping-NAME` until its points are deleted; a drop that its process
did not finish is finished when the store is next opened.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe
from qdrant_client import models

from app.domain.entry import FaqEntry
from app.store.base import (
    CONTENT_ID,
    ENTRY_KEYWORDS,
    PARTITION,
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
    pooled_point_id,
)

logger = logging.getLogger(__name__)

# Format 2 has pools (pooled collections are folders with a layout and no shard of their own).
STORE_FORMAT = 2
READABLE_FORMATS = (1, 2)
# The folder a pooled collection is renamed to while its points are deleted.
DROPPING = ".dropping-"
STORE_DIR = "edge"
# Collections up to this many points are searched exactly (brute force over every vector, a few
# milliseconds at 20k); larger segments get an HNSW graph when the index job seals a version.
# Chosen by `faq bench --scale` (docs/deployment.md, "Scale"): exact search keeps the decision rule's scores
# those it was fitted on, and costs under 3 ms a query up to here.
EXACT_SEARCH_POINTS = 20_000
HNSW_M = 16
HNSW_EF_CONSTRUCT = 100
# A pool's indexing threshold: no graph, ever (about 1 TB of vectors).
POOL_NO_GRAPH_KB = 2**30
# A pool is compacted when the store is opened once this many of its points were deleted (and
# they are a fifth of what it held): each reindex of a pooled FAQ deletes its old version.
VACUUM_MIN_DELETED = 1000
# Versions of at most this many entries, and every record collection, are partitions of a pool
# (FAQ_EDGE_POOL_MAX_ENTRIES): chosen by `python -m benchmarks.tenancy_scale` (docs/benchmarks.md).
DEFAULT_POOL_MAX_POINTS = 2_000


class _Shard:
    """One open Edge shard (a collection's own, or a pool shared by many) and the lock its calls
    go through (an Edge shard's queries and writes hold the GIL; the lock keeps a drop or close
    from running under a query)."""

    def __init__(self, edge: qe.EdgeShard, folder: Path):
        self.edge = edge
        self.folder = folder
        self.lock = threading.RLock()
        self.closed = False


class _Collection:
    """A collection as a call sees it: its layout and the shard its points are in, either all of
    it, or (pooled) the points tagged with the collection's name, under ids of their own
    (app.store.base.pooled_point_id)."""

    def __init__(self, shard: _Shard, layout: CollectionLayout, partition: str | None):
        self.shard = shard
        self.edge = shard.edge
        self.layout = layout
        self.partition = partition

    def point_id(self, point_id: str) -> str:
        """The shard's id of the collection's point `point_id`, and back again."""
        return point_id if self.partition is None else pooled_point_id(self.partition, point_id)

    def where(self, *conditions: Any, should: list[Any] | None = None) -> qe.Filter | None:
        """A filter of these conditions, within the collection's points."""
        must = list(conditions)
        if self.partition is not None:
            must.insert(0, qe.FieldCondition(PARTITION, match=qe.MatchValue(self.partition)))
        return qe.Filter(must=must, should=should) if must or should else None

    def tagged(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return dict(payload) if self.partition is None else {**payload, PARTITION: self.partition}


def _untagged(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (payload or {}).items() if k != PARTITION}


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


def _edge_config(layout: CollectionLayout, *, pool: bool = False) -> qe.EdgeConfig:
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
    # Edge's thresholds are in kilobytes of one named vector's storage. A pool is never given a
    # graph: every query of it is filtered to one collection's points, which the tenant index
    # finds and which are scored exactly (a pooled collection is small by construction).
    threshold_kb = max(1, EXACT_SEARCH_POINTS * largest * 4 // 1024)
    if pool:
        threshold_kb = POOL_NO_GRAPH_KB
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
        # A pool's segments are vacuumed from a few hundred points on (Edge's default: 1,000),
        # when `_compact_pools` runs the optimiser.
        optimizers=qe.EdgeOptimizersConfig(
            indexing_threshold=threshold_kb, vacuum_min_vector_number=100 if pool else None
        ),
    )


def _pool_key(layout: CollectionLayout) -> str:
    """The pool of the collections with the vectors of `layout` (its folder's name)."""
    shape = json.dumps(
        [dict(layout.dense), layout.distance, sorted(layout.sparse), sorted(layout.multi)], sort_keys=True
    )
    kind = "records" if set(layout.dense) == {""} else "entries"
    return f"{kind}-{hashlib.sha1(shape.encode()).hexdigest()[:16]}"


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


def _source_condition(source: str | None) -> list[qe.FieldCondition]:
    return [qe.FieldCondition("source", match=qe.MatchValue(source))] if source else []


def _dense_of(vector: Any) -> dict[str, Any]:
    if isinstance(vector, dict):
        return vector
    return {"": vector} if vector is not None else {}


class EdgeStore(FaqStore):
    def __init__(
        self,
        root: Path,
        *,
        description: str,
        temporary: bool = False,
        max_open: int = DEFAULT_MAX_OPEN,
        pool_max_points: int = DEFAULT_POOL_MAX_POINTS,
    ):
        self.root = root
        self.embedded = True
        self.description = description
        self.max_open = max_open
        self.pool_max_points = pool_max_points
        # The open-shard table, the layouts read, the aliases: changed under this lock.
        self._registry_lock = threading.RLock()
        # The open shards, least recently used first (app.store.edge_engine.DEFAULT_MAX_OPEN),
        # by the name of their folder ("collections/NAME" or "pools/KEY").
        self._open: OrderedDict[str, _Shard] = OrderedDict()
        # Each collection's layout once read (a few hundred bytes each), by collection name.
        self._layouts: dict[str, CollectionLayout] = {}
        self._shard_keys: dict[str, str] = {}  # collection -> the key of its shard (`_shard_key`)
        # A pooled collection's tag on its points: its name and a mark of this creation, so a
        # collection made again under a dropped one's name never meets the dropped one's points.
        self._partitions: dict[str, str] = {}
        root.mkdir(parents=True, exist_ok=True)
        (root / "collections").mkdir(exist_ok=True)
        (root / "pools").mkdir(exist_ok=True)
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
        if marker is None or marker.get("format") in READABLE_FORMATS:
            # A store of format 1 has no pools yet; marked 2, a release that cannot read pools
            # refuses it rather than losing them.
            if marker is None or marker.get("format") != STORE_FORMAT:
                _write_json(root / "store.json", {"engine": "qdrant-edge", "format": STORE_FORMAT})
        else:
            self._release()
            raise StoreError(
                f"{root} holds a store of format {marker.get('format')}; this release reads "
                f"{', '.join(map(str, READABLE_FORMATS))}"
            )
        # This process alone holds the store (the lock above), so the aliases file is read
        # once and then kept here, written through on every switch: no file read per query.
        self._alias_map: dict[str, str] = dict(_read_json(root / "aliases.json", {}))
        if temporary:
            self._cleanup = weakref.finalize(self, shutil.rmtree, root.parent, True)
        self._finish_drops()
        self._compact_pools()

    @classmethod
    def open_folder(
        cls, path: Path, max_open: int = DEFAULT_MAX_OPEN, pool_max_points: int = DEFAULT_POOL_MAX_POINTS
    ) -> EdgeStore:
        """The Edge store of the folder QDRANT_PATH names (created when missing), keeping at
        most `max_open` shards open, pooling versions of at most `pool_max_points` entries."""
        return cls(
            path / STORE_DIR,
            description=f"embedded Qdrant Edge store at {path}",
            max_open=max_open,
            pool_max_points=pool_max_points,
        )

    @classmethod
    def temporary(cls) -> EdgeStore:
        """A store in a fresh temporary folder, removed when the store is closed or collected
        (for calibration, evaluation, studies and tests)."""
        folder = Path(tempfile.mkdtemp(prefix="faq-edge-"))
        return cls(folder / STORE_DIR, description="temporary Qdrant Edge store", temporary=True)

    def close(self) -> None:
        with self._registry_lock:
            for shard in list(self._open.values()):
                self._close_shard(shard)
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
    def _close_shard(shard: _Shard) -> None:
        with shard.lock:
            if not shard.closed:
                shard.edge.flush()
                shard.edge.close()
                shard.closed = True

    # ---- folders, layouts, open shards -------------------------------------------------------
    def _folder(self, collection: str) -> Path:
        return self.root / "collections" / collection

    def _set_aliases(self, aliases: dict[str, str]) -> None:
        """Replace the aliases: the file first (durably, atomically), then the copy in memory."""
        _write_json(self.root / "aliases.json", aliases)
        self._alias_map = aliases

    def _layout(self, collection: str) -> CollectionLayout:
        """The layout of `collection` (read once, then kept); CollectionMissing."""
        with self._registry_lock:
            layout = self._layouts.get(collection)
            if layout is not None:
                return layout
            record = _read_json(self._folder(collection) / "layout.json", None)
            if record is None:
                raise CollectionMissing(
                    f"collection '{collection}' does not exist: "
                    "index the FAQ with `faq index`, or add entries"
                )
            layout = self._layouts[collection] = CollectionLayout(
                name=collection,
                dense=dict(record["dense"]),
                distance=record["distance"],
                sparse=tuple(record.get("sparse", ())),
                metadata=dict(record.get("metadata", {})),
                multi=tuple(record.get("multi", ())),
                pooled=bool(record.get("pool")),
            )
            if layout.pooled:
                self._partitions[collection] = str(record.get("partition") or collection)
            return layout

    def _key(self, folder: Path) -> str:
        """A shard's key: its folder under the store ("collections/NAME", "pools/KEY")."""
        return str(folder.relative_to(self.root))

    def _shard_key(self, layout: CollectionLayout) -> str:
        """The key of the shard that holds `layout`'s points (kept: every call needs it)."""
        key = self._shard_keys.get(layout.name)
        if key is None:
            key = f"pools/{_pool_key(layout)}" if layout.pooled else f"collections/{layout.name}"
            self._shard_keys[layout.name] = key
        return key

    def _handle(self, collection: str) -> _Collection:
        with self._registry_lock:
            layout = self._layout(collection)
            return _Collection(
                self._opened(self._shard_key(layout)), layout, self._partitions.get(collection)
            )

    def _opened(self, key: str) -> _Shard:
        """The shard of `key` (`_key`), opened unless it is (the least recently used closed
        beyond `max_open`)."""
        with self._registry_lock:
            shard = self._open.get(key)
            if shard is not None:
                self._open.move_to_end(key)
                return shard
            if self._lock_file.closed:
                raise StoreUnavailable(f"{self.description} is closed")
            folder = self.root / key
            try:
                edge = qe.EdgeShard.load(str(folder / "shard"))
            except Exception as exc:  # Edge reports every failure as a plain exception with a message
                raise StoreError(f"cannot open {key} in {self.description}: {exc}") from exc
            shard = self._open[key] = _Shard(edge, folder)
            self._close_idle()
            return shard

    def _close_idle(self) -> None:
        """Close the least recently used shards beyond `max_open` that no call is using (one in
        use is skipped, never waited for: its caller may be waiting for this lock). A closed
        shard is opened again by its next call (app.store.edge_engine._locked_target)."""
        excess = len(self._open) - self.max_open
        for key in list(self._open)[:-1]:  # never the one just opened
            if excess <= 0:
                return
            shard = self._open[key]
            if not shard.lock.acquire(blocking=False):
                continue
            try:
                shard.edge.flush()
                shard.edge.close()
                shard.closed = True
            finally:
                shard.lock.release()
            del self._open[key]
            excess -= 1

    def _target(self, alias_or_collection: str) -> _Collection:
        """The collection an alias points at, or the collection of that name."""
        name = self._alias_map.get(alias_or_collection, alias_or_collection)
        return self._handle(name)

    def _locked_target(self, alias_or_collection: str) -> _Collection:
        """The open collection `alias_or_collection` names, its shard's lock taken. An index job
        drops the version it replaced right after the switch, so a name read from the aliases
        just before can be gone by the time it is opened or locked: then the alias is read
        again (it points at the new version by then)."""
        for _ in range(5):
            try:
                handle = self._target(alias_or_collection)
            except CollectionMissing:
                if alias_or_collection not in self._alias_map:
                    raise
                continue  # the version read from the alias was dropped: read it again
            handle.shard.lock.acquire()
            # Dropped between the lookup and the lock: its shard closed, or its layout gone (or
            # replaced: metadata written meanwhile, read again).
            if not handle.shard.closed and self._layouts.get(handle.layout.name) is handle.layout:
                return handle
            handle.shard.lock.release()
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
            handle.shard.lock.release()

    def _write_layout(self, layout: CollectionLayout, folder: Path | None = None) -> None:
        record: dict[str, object] = {
            "dense": dict(layout.dense),
            "distance": layout.distance,
            "sparse": list(layout.sparse),
            "metadata": dict(layout.metadata),
            "multi": list(layout.multi),
        }
        if layout.pooled:
            record["pool"] = _pool_key(layout)
            record["partition"] = self._partitions[layout.name]
        _write_json((folder or self._folder(layout.name)) / "layout.json", record)

    def _pool(self, layout: CollectionLayout) -> None:
        """The pool of `layout`'s vectors, created with its indexes if it does not exist yet
        (a pool folder without pool.json is one whose creation died: made again)."""
        folder = self.root / "pools" / _pool_key(layout)
        if (folder / "pool.json").exists():
            return
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        edge = qe.EdgeShard.create(str(folder / "shard"), _edge_config(layout, pool=True))
        edge.update(qe.UpdateOperation.create_field_index(PARTITION, qe.KeywordIndexParams(is_tenant=True)))
        for key in ENTRY_KEYWORDS if set(layout.dense) != {""} else ():
            edge.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword))
        _write_json(folder / "pool.json", {"vectors": _pool_key(layout)})  # last: the pool exists
        self._open[self._key(folder)] = _Shard(edge, folder)
        self._close_idle()

    # ---- collections and aliases --------------------------------------------------------------
    def resolve_alias(self, alias: str) -> str | None:
        return self._alias_map.get(alias)

    def collection_info(self, alias: str) -> CollectionInfo:
        if self.resolve_alias(alias) is None:
            raise CollectionMissing(f"collection '{alias}' does not exist: index the FAQ with `faq index`")
        with self._holding(alias) as handle:
            count = handle.edge.count(qe.CountRequest(exact=True, filter=handle.where()))
        names = [*handle.layout.dense, *handle.layout.sparse]
        return CollectionInfo(
            alias=alias, collection=handle.layout.name, points=count, vectors=tuple(sorted(names))
        )

    def versions(self, alias: str) -> list[str]:
        folder = self.root / "collections"
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.startswith(f"{alias}_v"))

    def create_collection(self, layout: CollectionLayout) -> None:
        folder = self._folder(layout.name)
        pooled = layout.pooled and self.pool_max_points > 0
        layout = replace(layout, pooled=pooled)
        with self._registry_lock:
            if (folder / "layout.json").exists():
                raise StoreError(f"collection '{layout.name}' already exists in {self.description}")
            shutil.rmtree(folder, ignore_errors=True)  # a creation its process did not finish
            folder.mkdir(parents=True)
            try:
                if pooled:
                    self._pool(layout)
                    self._partitions[layout.name] = f"{layout.name}#{secrets.token_hex(4)}"
                else:
                    edge = qe.EdgeShard.create(str(folder / "shard"), _edge_config(layout))
                    # Keyword indexes: the page's source filter and facet, and "is this content stored".
                    for key in ENTRY_KEYWORDS if set(layout.dense) != {""} else ():
                        edge.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword))
                    self._open[self._key(folder)] = _Shard(edge, folder)
                    self._close_idle()
            except Exception as exc:
                shutil.rmtree(folder, ignore_errors=True)
                raise StoreError(f"cannot create {layout.name} in {self.description}: {exc}") from exc
            self._write_layout(layout)  # last: the collection exists once its layout does
            self._layouts[layout.name] = layout

    def seal(self, collection: str) -> None:
        """Build the version's HNSW graph (when it is large enough to get one) and flush it.
        Edge's optimiser holds the GIL for the whole build (measured: a 2.5 s stall of every
        other thread at 8.5k points), so it runs in a child process on the closed shard while
        this process keeps answering from the live version. A pooled version is flushed only."""
        with self._registry_lock:
            handle = self._handle(collection)
            if handle.partition is not None:
                with handle.shard.lock:
                    handle.edge.flush()
                return
            self._close_shard(handle.shard)
            del self._open[self._key(handle.shard.folder)]
        child = subprocess.run(
            [sys.executable, "-m", "app.store.edge_optimize", str(handle.shard.folder / "shard")],
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
        with self._holding(collection) as handle:
            points = [
                qe.Point(
                    handle.point_id(point_id),
                    {name: _edge_vector(value) for name, value in point_vectors(vectors, i).items()},
                    handle.tagged({**entry.to_record(), CONTENT_ID: entry.id}),
                )
                for i, (point_id, entry) in enumerate(zip(point_ids, entries, strict=True))
            ]
            handle.edge.update(qe.UpdateOperation.upsert_points(points))

    def count(self, collection: str) -> int:
        with self._holding(collection) as handle:
            return handle.edge.count(qe.CountRequest(exact=True, filter=handle.where()))

    def point_alias_to(self, alias: str, collection: str) -> str | None:
        with self._registry_lock:
            self._handle(collection)  # only an existing collection can be pointed at
            previous = self._alias_map.get(alias)
            self._set_aliases({**self._alias_map, alias: collection})
        return previous

    def drop(self, collection: str) -> None:
        with self._registry_lock:
            if collection in self._alias_map.values():
                self._set_aliases({a: c for a, c in self._alias_map.items() if c != collection})
            self._layouts.pop(collection, None)
            self._shard_keys.pop(collection, None)
            self._partitions.pop(collection, None)
            folder = self._folder(collection)
            record = _read_json(folder / "layout.json", None)
            if record is None or not record.get("pool"):
                shard = self._open.pop(self._key(folder), None)
                if shard is not None:
                    self._close_shard(shard)
                shutil.rmtree(folder, ignore_errors=True)
                return
            # A pooled collection: renamed first (so a crash before its points are deleted is
            # finished at the next start, before anything can be created under its name), then
            # its points deleted from the pool, then its folder.
            dropping = self.root / "collections" / f"{DROPPING}{collection}"
            shutil.rmtree(dropping, ignore_errors=True)
            os.replace(folder, dropping)
        self._delete_partition(str(record.get("partition") or collection), str(record["pool"]))
        shutil.rmtree(dropping, ignore_errors=True)

    def _delete_partition(self, partition: str, pool: str) -> None:
        folder = self.root / "pools" / pool
        if not (folder / "pool.json").exists():
            return
        shard = self._opened(self._key(folder))
        where = qe.Filter(must=[qe.FieldCondition(PARTITION, match=qe.MatchValue(partition))])
        with shard.lock:
            deleted = shard.edge.count(qe.CountRequest(exact=True, filter=where))
            shard.edge.update(qe.UpdateOperation.delete_points_by_filter(where))
        self._note_deleted(folder, deleted)

    def _note_deleted(self, pool_folder: Path, points: int) -> None:
        """Count points deleted from a pool since it was last compacted (kept in pool.json):
        Edge keeps their space until its optimiser runs (`_compact_pools`)."""
        if points <= 0:
            return
        with self._registry_lock:
            record = _read_json(pool_folder / "pool.json", None)
            if record is not None:
                record["deleted"] = int(record.get("deleted", 0)) + points
                _write_json(pool_folder / "pool.json", record)

    def _compact_pools(self) -> None:
        """Give back the space of deleted points in the pools that hold many (a fifth of their
        points, at least VACUUM_MIN_DELETED), when the store is opened. Edge's optimiser holds
        the GIL while it runs (measured: 2.2 s for a pool of 130,000 points, 30% deleted: disk
        1,020 -> 391 MB), so it runs here, before the store serves, not under live asks."""
        for folder in sorted((self.root / "pools").iterdir()):
            record = _read_json(folder / "pool.json", None)
            if record is None:
                continue
            deleted = int(record.get("deleted", 0))
            if deleted < VACUUM_MIN_DELETED:
                continue
            shard = self._opened(self._key(folder))
            with shard.lock:
                live = shard.edge.count(qe.CountRequest(exact=True))
                if deleted < 0.2 * (live + deleted):
                    continue
                started = time.perf_counter()
                shard.edge.optimize()
                shard.edge.flush()
            _write_json(folder / "pool.json", {**record, "deleted": 0})
            logger.info(
                "compacted %s: %d deleted points' space given back in %.1f s",
                self._key(folder),
                deleted,
                time.perf_counter() - started,
            )

    def _finish_drops(self) -> None:
        """Finish the drops of pooled collections that a process died in the middle of."""
        for folder in (self.root / "collections").glob(f"{DROPPING}*"):
            record = _read_json(folder / "layout.json", None)
            if record and record.get("pool"):
                name = folder.name.removeprefix(DROPPING)
                logger.info("finishing the drop of %s, interrupted in an earlier process", name)
                self._delete_partition(str(record.get("partition") or name), str(record["pool"]))
            shutil.rmtree(folder, ignore_errors=True)

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
            filter=handle.where(*_source_condition(source)),
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
            points = handle.edge.query(self._request(handle, vector, using, limit, source, with_entries))
        return [
            ScoredPoint(
                handle.point_id(str(p.id)),
                float(p.score),
                entry_from_payload(p.payload) if with_entries else None,
            )
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
            results = handle.edge.query_batch(qe.QueryBatchRequest(requests))
        return [
            [ScoredPoint(handle.point_id(str(p.id)), float(p.score)) for p in points] for points in results
        ]

    def entries(self, alias: str, ids: Sequence[str]) -> dict[str, FaqEntry]:
        if not ids:
            return {}
        return {point_id: entry_from_payload(payload) for point_id, payload in self._retrieve(alias, ids)}

    def scroll_entries(
        self, alias: str, *, source: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[tuple[str, FaqEntry]], str | None]:
        with self._holding(alias) as handle:
            points, following = handle.edge.scroll(
                qe.ScrollRequest(
                    offset=None if cursor is None else handle.point_id(cursor),
                    limit=limit,
                    filter=handle.where(*_source_condition(source)),
                    with_payload=True,
                    with_vector=False,
                )
            )
        return [(handle.point_id(str(p.id)), entry_from_payload(p.payload)) for p in points], (
            None if following is None else handle.point_id(str(following))
        )

    def _scroll(
        self, collection: str, with_vector: bool | list[str], page: int
    ) -> Iterator[tuple[str, dict, Any]]:
        """Every point of `collection` as (its id, its payload, its vector), a page at a time
        (the lock is held for one page, never across the caller's work)."""
        offset = None
        while True:
            with self._holding(collection) as handle:
                points, offset = handle.edge.scroll(
                    qe.ScrollRequest(
                        offset=offset,
                        limit=page,
                        filter=handle.where(),
                        with_payload=True,
                        with_vector=with_vector,
                    )
                )
            for p in points:
                yield handle.point_id(str(p.id)), _untagged(p.payload), p.vector
            if offset is None:
                return

    def metadata(self, collection: str) -> dict:
        with self._holding(collection) as handle:  # an alias: the version it points at, now
            return dict(handle.layout.metadata)

    def set_metadata(self, collection: str, values: Mapping[str, object]) -> None:
        with self._registry_lock:
            layout = self._layout(collection)
            # Every field of the layout but its metadata stays (a hand-built copy once lost `multi`).
            layout = replace(layout, metadata={**layout.metadata, **values})
            self._write_layout(layout)
            self._layouts[collection] = layout

    def set_payload(self, collection: str, point_id: str, values: Mapping[str, object]) -> None:
        with self._holding(collection) as handle:
            where = handle.where(qe.HasIdCondition({handle.point_id(point_id)}))
            assert where is not None
            handle.edge.update(qe.UpdateOperation.set_payload_by_filter(where, dict(values)))

    def delete_points(self, collection: str, ids: Sequence[str]) -> None:
        with self._holding(collection) as handle:
            handle.edge.update(qe.UpdateOperation.delete_points([handle.point_id(i) for i in ids]))
        if handle.partition is not None:
            self._note_deleted(handle.shard.folder, len(ids))

    def source_counts(self, alias: str) -> dict[str, int]:
        with self._holding(alias) as handle:
            request = qe.FacetRequest("source", limit=1000, exact=True, filter=handle.where())
            response = handle.edge.facet(request)
        # Edge's facet keeps a value whose points were all deleted, with a count of 0.
        return {str(hit.value): hit.count for hit in response.hits if hit.count > 0}

    # ---- the primitives of app.store.base's shared algorithms ------------------------------
    def _has_collection(self, name: str) -> bool:
        return name in self._layouts or (self._folder(name) / "layout.json").exists()

    def _retrieve(self, collection: str, ids: Sequence[str]) -> list[tuple[str, dict]]:
        with self._holding(collection) as handle:
            points = handle.edge.retrieve(
                [handle.point_id(i) for i in ids], with_payload=True, with_vector=False
            )
        return [(handle.point_id(str(p.id)), _untagged(p.payload)) for p in points]

    def _having(
        self, collection: str, key: str, values: Sequence[str], *, limit: int
    ) -> list[tuple[str, dict]]:
        with self._holding(collection) as handle:
            match = handle.where(qe.FieldCondition(key, match=qe.MatchAny(list(values))))
            points, _ = handle.edge.scroll(
                qe.ScrollRequest(limit=limit, filter=match, with_payload=True, with_vector=False)
            )
        return [(handle.point_id(str(p.id)), _untagged(p.payload)) for p in points]

    def _scan(
        self, collection: str, vectors: bool | list[str], page: int
    ) -> Iterator[tuple[str, dict, dict[str, object]]]:
        for point_id, payload, vector in self._scroll(collection, vectors, page):
            yield point_id, payload, dict(_dense_of(vector))

    def _upsert_records(self, name: str, records: Sequence[tuple[str, np.ndarray, dict]]) -> None:
        with self._holding(name) as handle:
            points = [
                qe.Point(handle.point_id(record_id), vector.tolist(), handle.tagged(payload))
                for record_id, vector, payload in records
            ]
            handle.edge.update(qe.UpdateOperation.upsert_points(points))

    def add_records_to(self, batches: Mapping[str, Sequence[tuple[str, np.ndarray, dict]]]) -> None:
        # Pooled collections that exist, by pool: one write a pool; the rest one by one.
        by_pool: dict[str, list[str]] = {}
        for name, records in batches.items():
            if not records:
                continue
            try:
                layout = self._layout(name)
            except CollectionMissing:
                self.add_records(name, records)  # its first records create it
                continue
            if not layout.pooled:
                self.add_records(name, records)
            else:
                by_pool.setdefault(self._shard_key(layout), []).append(name)
        for names in by_pool.values():
            # Each name's lock is the pool's one lock, taken again: held, the pool stays open.
            with ExitStack() as held:
                shards: dict[int, tuple[_Collection, list[qe.Point]]] = {}
                for name in names:
                    handle = held.enter_context(self._holding(name))
                    shards.setdefault(id(handle.shard), (handle, []))[1].extend(
                        qe.Point(handle.point_id(record_id), vector.tolist(), handle.tagged(payload))
                        for record_id, vector, payload in batches[name]
                    )
                for handle, points in shards.values():
                    handle.edge.update(qe.UpdateOperation.upsert_points(points))

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
        with self._holding(name) as handle:
            where = handle.where(qe.HasIdCondition({handle.point_id(lease_id)}), *mine, should=either or None)
            assert where is not None
            handle.edge.update(qe.UpdateOperation.set_payload_by_filter(where, payload))

    def index_records(self, name: str, keys: Sequence[str]) -> None:
        with self._holding(name) as handle:
            for key in keys:
                handle.edge.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword))

    def count_records(
        self, name: str, key: str, *, where: Mapping[str, Sequence[str]] | None = None, limit: int = 100
    ) -> dict[str, int]:
        if not self._has_collection(name):
            return {}
        conditions: list[Any] = [
            qe.FieldCondition(k, match=qe.MatchAny(list(v))) for k, v in (where or {}).items()
        ]
        with self._holding(name) as handle:
            request = qe.FacetRequest(key, limit=limit, exact=True, filter=handle.where(*conditions))
            response = handle.edge.facet(request)
        return {str(hit.value): hit.count for hit in response.hits if hit.count > 0}

    # ---- the whole store, for copying it ------------------------------------------------------
    def aliases(self) -> dict[str, str]:
        return dict(self._alias_map)

    def collection_names(self) -> list[str]:
        folder = self.root / "collections"
        return sorted(
            p.name for p in folder.iterdir() if not p.name.startswith(".") and (p / "layout.json").exists()
        )

    def layout(self, collection: str) -> CollectionLayout:
        return self._layout(collection)

    def points(self, collection: str, page: int = 500) -> Iterator[StoredPoint]:
        for point_id, payload, vector in self._scroll(collection, True, page):
            dense: dict[str, Any] = {}
            sparse: dict[str, tuple[list[int], list[float]]] = {}
            for name, value in _dense_of(vector).items():
                if isinstance(value, qe.SparseVector):
                    sparse[name] = (list(value.indices), [float(v) for v in value.values])
                elif value and isinstance(value[0], list):  # a multivector
                    dense[name] = [[float(v) for v in row] for row in value]
                else:
                    dense[name] = [float(v) for v in value]
            yield StoredPoint(point_id, dense, sparse, payload)

    def write_points(self, collection: str, points: Sequence[StoredPoint]) -> None:
        with self._holding(collection) as handle:
            edge_points = []
            for p in points:
                vector: dict[str, Any] = {
                    **p.dense,
                    **{name: qe.SparseVector(i, v) for name, (i, v) in p.sparse.items()},
                }
                edge_points.append(
                    qe.Point(
                        handle.point_id(p.id),
                        vector[""] if set(vector) == {""} else vector,
                        handle.tagged(p.payload),
                    )
                )
            handle.edge.update(qe.UpdateOperation.upsert_points(edge_points))


def has_edge_store(path: Path) -> bool:
    return (path / STORE_DIR / "store.json").exists()
