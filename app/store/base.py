"""What every store engine shares: its errors, and the typed results it returns."""

from __future__ import annotations

import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np
from qdrant_client import models

from app.domain.entry import FaqEntry

# A named vector's values for a batch of points: a dense matrix, one sparse vector a point, or
# (a multivector) one matrix a point, each row one vector; a matrix of no rows: no vector.
VectorBatch = np.ndarray | list[models.SparseVector] | list[np.ndarray]
# A query: a dense vector, a sparse one, or (against a multivector) a matrix of one row.
QueryVector = np.ndarray | models.SparseVector


# The payload field holding an entry's content id (FaqEntry.id of what it holds now).
CONTENT_ID = "content_id"
# The vector of a record kept for its payload only (job states, the ask log, review marks).
NO_VECTOR = np.ones(1, dtype=np.float32)
# The payload keys of a FAQ version's keyword indexes: the page's source filter and facet, "is
# this content stored", and "which entries offer this one as a follow-up".
FOLLOW_UPS = "follow_ups"
ENTRY_KEYWORDS = ("source", CONTENT_ID, FOLLOW_UPS)
# The metadata key of a finished version's facts (created, origin, entries; staged; last test).
VERSION_KEY = "version"
# A pooled collection (`CollectionLayout.pooled`) is a partition of an engine collection that
# many collections share (a pool): its points carry the collection's name under this payload
# key (a keyword index marked as the tenant key) and are stored under `pooled_point_id`.
PARTITION = "_collection"
_POOL_IDS = uuid.UUID("5d2f3c4e-0b7a-4e61-9a8c-3f1e2d4b6a70")


class StoreError(RuntimeError):
    """The vector store failed; the message says how."""


class StoreUnavailable(StoreError):
    """Qdrant cannot be reached (server down, or the embedded folder is locked)."""


class CollectionMissing(StoreError):
    """The collection alias does not exist yet (nothing was indexed)."""


class MissingVector(StoreError):
    """The collection has no vectors of the asked name (indexed before that vector existed)."""


@dataclass(frozen=True)
class ScoredPoint:
    """One query result: the point's id and score, and its entry when it was asked for."""

    id: str
    score: float
    entry: FaqEntry | None = None


@dataclass(frozen=True)
class CollectionInfo:
    alias: str
    collection: str
    points: int
    vectors: tuple[str, ...]


_payload_time_lock = threading.Lock()
_last_payload_time = 0.0


def payload_time() -> float:
    """Now, as Unix time to the millisecond, for a payload that is read back and compared:
    Qdrant Edge gives a float of 17 significant digits back one unit in the last place off now
    and then (measured: 253 of 2,000 times), one of 13 digits as it was written. Strictly
    increasing within a process, so records made one after another sort in that order."""
    global _last_payload_time
    with _payload_time_lock:
        now = max(round(time.time(), 3), round(_last_payload_time + 0.001, 3))
        _last_payload_time = now
        return now


@lru_cache(maxsize=65_536)
def _partition_mask(partition: str) -> int:
    return uuid.uuid5(_POOL_IDS, partition).int


def pooled_point_id(partition: str, point_id: str) -> str:
    """The id in a pool of the point `point_id` of the collection `partition`, and back again:
    the id XOR a mask made from the collection's name, so the same entry in two collections (two
    versions of a FAQ, two FAQs) gets two ids, and a query's results give the collection's own
    ids back without reading their payloads."""
    # On the hex digits, not through uuid.UUID: 0.9 instead of 2.2 us, and a query's results are
    # a few hundred ids.
    digits = point_id.replace("-", "")
    if len(digits) != 32:
        raise ValueError(f"not a point id: {point_id!r}")
    h = f"{int(digits, 16) ^ _partition_mask(partition):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def entry_from_payload(payload: Mapping | None) -> FaqEntry:
    payload = payload or {}
    return FaqEntry(
        question=str(payload.get("question", "")),
        answer=str(payload.get("answer", "")),
        source=str(payload.get("source", "")),
        filename=str(payload.get("filename", "")),
        alternates=tuple(str(w) for w in payload.get("alternates") or ()),
        follow_ups=tuple(str(i) for i in payload.get("follow_ups") or ()),
    )


class FaqStore(ABC):
    """Every store operation the service uses, whatever engine runs it: versioned collections
    switched under an alias, points with named dense and sparse vectors, raw queries, and the
    record collections kept beside the FAQ. Two engines implement it: Qdrant Edge in-process
    (`app.store.edge_engine`, the embedded default) and qdrant-client (`app.store.client_engine`,
    a Qdrant server, or its local mode standing in for the server's API in tests)."""

    #: True when this process alone holds the store (it may clean up after killed jobs).
    embedded: bool
    #: Names the store in messages ("embedded Qdrant Edge store at var/qdrant").
    description: str
    #: A version of at most this many entries (and every record collection) is a partition of a
    #: shared pool rather than a collection of its own; 0: never (an engine without pools).
    pool_max_points: int = 0

    @abstractmethod
    def close(self) -> None:
        """Flush and release everything the store holds."""

    # ---- collections and aliases ------------------------------------------------------------
    @abstractmethod
    def resolve_alias(self, alias: str) -> str | None:
        """The collection `alias` points at, or None."""

    @abstractmethod
    def collection_info(self, alias: str) -> CollectionInfo: ...

    @abstractmethod
    def versions(self, alias: str) -> list[str]:
        """Collections that are versions of `alias` (alias_vYYYYmmddTHHMMSSffffff_xxxxxx), sorted."""

    def orphan_versions(self, alias: str) -> list[str]:
        """Versions of `alias` that it does not point at and that were never finished: left by
        an index job that was killed, or being built by one now (finished versions are kept for
        rollback and staging: their metadata says `finished`)."""
        current = self.resolve_alias(alias)
        orphans = []
        for name in self.versions(alias):
            if name == current:
                continue
            try:
                finished = bool((self.metadata(name).get(VERSION_KEY) or {}).get("finished"))
            except CollectionMissing:
                finished = False  # a creation that died before its layout was written
            except (StoreError, ValueError):
                continue  # dropped meanwhile
            if not finished:
                orphans.append(name)
        return orphans

    def create_version(
        self,
        alias: str,
        dense: Mapping[str, int],
        sparse: Sequence[str] = (),
        multi: Mapping[str, int] | None = None,
        *,
        expected_points: int | None = None,
    ) -> str:
        """A new, empty collection version with the named dense vectors (of the given sizes,
        compared by dot product: the search stores and queries unit-length vectors, so scores
        are cosine similarities), dense vectors holding several vectors a point (`multi`, name
        -> size; a point scores the best of its rows: max-sim), and sparse vectors
        (IDF-weighted dot product); a keyword index on `source` and on the content id. Pooled
        when the store has pools and the version will hold at most `pool_max_points` entries
        (unknown: a FAQ's first, empty version, which starts small)."""
        name = version_name(alias)
        pooled = self.pool_max_points > 0 and (expected_points or 0) <= self.pool_max_points
        self.create_collection(
            CollectionLayout(
                name=name,
                dense={**dense, **(multi or {})},
                distance="dot",
                sparse=tuple(sparse),
                multi=tuple(multi or ()),
                pooled=pooled,
            )
        )
        return name

    def seal(self, collection: str) -> None:  # noqa: B027 - engines without an index step keep this
        """Make a fully written version ready to serve (build its search index, flush it);
        called by the index job before the switch. A server indexes on its own."""

    @abstractmethod
    def upsert(
        self,
        collection: str,
        entries: Sequence[FaqEntry],
        vectors: Mapping[str, VectorBatch],
        ids: Sequence[str] | None = None,
    ) -> None:
        """Write `entries` with their vectors, under their own ids (uuid5 of their content) or,
        for an edited entry that keeps its id, under `ids`. The payload carries the entry and
        its content id (`CONTENT_ID`), kept current through edits."""

    @abstractmethod
    def count(self, collection: str) -> int: ...

    @abstractmethod
    def point_alias_to(self, alias: str, collection: str) -> str | None:
        """Atomically move `alias` to `collection`; returns the collection it pointed at before."""

    @abstractmethod
    def drop(self, collection: str) -> None: ...

    # ---- raw queries ------------------------------------------------------------------------
    @abstractmethod
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
        """The `limit` points nearest to `vector` in the named vector space `using`, best first."""

    @abstractmethod
    def query_batch(
        self,
        alias: str,
        vectors: Sequence[QueryVector],
        using: str,
        *,
        limit: int,
        sources: Sequence[str | None],
    ) -> list[list[ScoredPoint]]:
        """`query` for several vectors in one call, results in order."""

    @abstractmethod
    def entries(self, alias: str, ids: Sequence[str]) -> dict[str, FaqEntry]:
        """The entries stored under `ids` (those that exist)."""

    @abstractmethod
    def scroll_entries(
        self, alias: str, *, source: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[tuple[str, FaqEntry]], str | None]:
        """A page of stored entries in the store's order (of its point ids), and the cursor of
        the next page (None: the last)."""

    def each_entry(
        self, alias: str, *, source: str | None = None, cursor: str | None = None, page: int = 1000
    ) -> Iterator[tuple[str, FaqEntry]]:
        """Every stored entry (of `source`) with its id, in the store's order from `cursor`,
        read a page at a time (payloads only)."""
        while True:
            found, cursor = self.scroll_entries(alias, source=source, limit=page, cursor=cursor)
            yield from found
            if cursor is None:
                return

    def stored_vectors(
        self, collection: str, names: Sequence[str], page: int = 1000
    ) -> tuple[list[FaqEntry], dict[str, np.ndarray]]:
        """Every entry of a collection with its named dense vectors (for refitting the decision
        rule after live changes, without encoding the FAQ again); a point without one of them
        is left out."""
        entries: list[FaqEntry] = []
        columns: dict[str, list[np.ndarray]] = {name: [] for name in names}
        for _, payload, vectors in self._scan(collection, list(names), page):
            if not all(name in vectors for name in names):
                continue
            entries.append(entry_from_payload(payload))
            for name in names:
                columns[name].append(np.asarray(vectors[name], dtype=np.float32))
        return entries, {
            name: np.stack(rows) if rows else np.zeros((0, 0), np.float32) for name, rows in columns.items()
        }

    @abstractmethod
    def metadata(self, collection: str) -> dict:
        """The collection's metadata (what the index job stored with this version); `collection`
        may be an alias: then the metadata of the version it points at, read as one operation
        (a switch that drops the old version in between is not an error)."""

    @abstractmethod
    def set_metadata(self, collection: str, values: Mapping[str, object]) -> None:
        """Store `values` with the collection version (merged into its metadata)."""

    def ids_holding(self, alias: str, entries: Sequence[FaqEntry]) -> dict[str, str]:
        """For each of `entries` already stored (the same content, under whatever id): content
        id -> the id of the point that holds it. Never-edited entries are found by their id,
        edited ones by the content id kept in their payload."""
        wanted = {entry.id: entry for entry in entries}
        if not wanted:
            return {}
        points = [
            *self._retrieve(alias, list(wanted)),
            *self._having(alias, CONTENT_ID, list(wanted), limit=len(wanted) * 2 + 10),
        ]
        found: dict[str, str] = {}
        for point_id, payload in points:
            stored = entry_from_payload(payload)
            if stored.id in wanted:
                found.setdefault(stored.id, point_id)
        return found

    def having_follow_up(self, collection: str, entry_id: str) -> dict[str, FaqEntry]:
        """The entries that offer `entry_id` as a follow-up, by id."""
        found = self._having(collection, FOLLOW_UPS, [entry_id], limit=self.count(collection) + 1)
        return {point_id: entry_from_payload(payload) for point_id, payload in found}

    @abstractmethod
    def set_payload(self, collection: str, point_id: str, values: Mapping[str, object]) -> None:
        """Set these payload keys of one point (its vectors and other keys stay)."""

    @abstractmethod
    def delete_points(self, collection: str, ids: Sequence[str]) -> None: ...

    @abstractmethod
    def source_counts(self, alias: str) -> dict[str, int]:
        """How many entries each `source` value has (a facet count)."""

    # ---- record collections (feedback, unanswered questions, job records) -------------------
    def add_record(self, name: str, record_id: str, vector: np.ndarray, payload: dict) -> None:
        """Write a record to a plain collection (one unnamed cosine vector a record) kept beside
        the FAQ; created by its first record, never versioned or replaced by an index job."""
        self.add_records(name, [(record_id, vector, payload)])

    def add_records(self, name: str, records: Sequence[tuple[str, np.ndarray, dict]]) -> None:
        """`add_record` for several records (id, vector, payload) in one write."""
        if not records:
            return
        with self._creating:
            if not self._has_collection(name):
                size = len(records[0][1])
                layout = CollectionLayout(
                    name=name, dense={"": size}, distance="cosine", pooled=self.pool_max_points > 0
                )
                self.create_collection(layout)
        self._upsert_records(name, records)

    def add_records_to(self, batches: Mapping[str, Sequence[tuple[str, np.ndarray, dict]]]) -> None:
        """`add_records` for several record collections at once (the ask logs of many FAQs);
        an engine with pools writes each pool's share in one call."""
        for name, records in batches.items():
            self.add_records(name, records)

    @abstractmethod
    def index_records(self, name: str, keys: Sequence[str]) -> None:
        """Keyword indexes on these payload keys of a record collection (which must exist), so
        that `count_records` reads counts from the index; idempotent."""

    @abstractmethod
    def count_records(
        self, name: str, key: str, *, where: Mapping[str, Sequence[str]] | None = None, limit: int = 100
    ) -> dict[str, int]:
        """How many records of `name` have each value of `key` (the `limit` most frequent),
        among those whose payload matches one of the listed values of every `where` key."""

    def records(
        self, name: str, *, with_vectors: bool = False, page: int = 1000
    ) -> Iterator[tuple[str, dict, np.ndarray | None]]:
        """Every record of a record collection: (id, payload, vector or None); none before the
        first record is written."""
        if not self._has_collection(name):
            return
        for record_id, payload, vectors in self._scan(name, with_vectors, page):
            values = vectors.get("") if with_vectors else None
            yield record_id, payload, None if values is None else np.asarray(values, dtype=np.float32)

    # ---- shared state of several processes (reindex job records and their lease) -------------
    def put_state(self, name: str, record_id: str, payload: dict) -> None:
        """Write a small state record (no meaningful vector) to the plain collection `name`."""
        self.add_record(name, record_id, NO_VECTOR, payload)

    def get_state(self, name: str, record_id: str) -> dict | None:
        if not self._has_collection(name):
            return None
        found = self._retrieve(name, [record_id])
        return found[0][1] if found else None

    def take_lease(self, name: str, lease_id: str, holder: str, now: float, ttl: float) -> str | None:
        """Take the lease `lease_id` for `holder` when it is free or its holder has not renewed
        it for `ttl` seconds; None when taken, else the holder that has it. A conditional write
        (the payload is set only if the lease point is free or expired), then read back: an
        engine applies a collection's updates one after another, so of two processes racing,
        one write matches and the other finds the lease held."""
        if self.get_state(name, lease_id) is None:
            self.put_state(name, lease_id, {"holder": "", "renewed": 0.0})
        self._set_lease(name, lease_id, {"holder": holder, "renewed": now}, free_before=now - ttl)
        held_by = str((self.get_state(name, lease_id) or {}).get("holder", ""))
        return None if held_by == holder else held_by

    def renew_lease(self, name: str, lease_id: str, holder: str, now: float) -> None:
        self._set_lease(name, lease_id, {"renewed": now}, holder=holder)

    def release_lease(self, name: str, lease_id: str, holder: str) -> None:
        self._set_lease(name, lease_id, {"holder": "", "renewed": 0.0}, holder=holder)

    # ---- what each engine provides for the algorithms above ---------------------------------
    # Creating a record collection on its first record: one thread at a time (per store).
    _creating = threading.RLock()

    @abstractmethod
    def _has_collection(self, name: str) -> bool:
        """Whether the collection (or alias) `name` exists."""

    @abstractmethod
    def _retrieve(self, collection: str, ids: Sequence[str]) -> list[tuple[str, dict]]:
        """(id, payload) of the points of these ids that exist."""

    @abstractmethod
    def _having(
        self, collection: str, key: str, values: Sequence[str], *, limit: int
    ) -> list[tuple[str, dict]]:
        """(id, payload) of at most `limit` points whose payload `key` is one of `values`."""

    @abstractmethod
    def _scan(
        self, collection: str, vectors: bool | list[str], page: int
    ) -> Iterator[tuple[str, dict, dict[str, object]]]:
        """Every point as (id, payload, its dense vectors by name; "" the unnamed one), with the
        asked vectors (all, none, or these names), a page at a time: a lock is held for one page,
        never across the caller's work."""

    @abstractmethod
    def _upsert_records(self, name: str, records: Sequence[tuple[str, np.ndarray, dict]]) -> None:
        """Write records (id, vector, payload) to an existing record collection."""

    @abstractmethod
    def _set_lease(
        self,
        name: str,
        lease_id: str,
        payload: dict,
        *,
        holder: str | None = None,
        free_before: float | None = None,
    ) -> None:
        """Set `payload` on the lease point, in one conditional write: only where its holder is
        `holder`, or (`free_before`) where it has none or was last renewed before that time."""

    # ---- the whole store, for copying it to another engine (`faq migrate-store`) --------------
    @abstractmethod
    def aliases(self) -> dict[str, str]:
        """Every alias and the collection it points at."""

    @abstractmethod
    def collection_names(self) -> list[str]:
        """Every collection in the store: versions and record collections."""

    @abstractmethod
    def layout(self, collection: str) -> CollectionLayout:
        """How `collection` was created, and its metadata."""

    @abstractmethod
    def create_collection(self, layout: CollectionLayout) -> None:
        """A new, empty collection exactly as `layout` describes it (name included); a FAQ
        version (named vectors, not a record collection's one) gets keyword indexes on `source`
        and on the content id."""

    @abstractmethod
    def points(self, collection: str, page: int = 500) -> Iterator[StoredPoint]:
        """Every point of `collection` with all its vectors and its payload."""

    @abstractmethod
    def write_points(self, collection: str, points: Sequence[StoredPoint]) -> None: ...


def version_name(alias: str) -> str:
    """A new version's name: alias_vYYYYmmddTHHMMSSffffff_xxxxxx (sorted by time, unique).
    Microseconds, because versions are listed newest first by name and two built within one
    second (a reindex, then an import) must not sort at random."""
    global _last_stamp
    with _stamp_lock:  # strictly increasing within a process, even within one microsecond
        now = max(datetime.now(UTC), _last_stamp + timedelta(microseconds=1))
        _last_stamp = now
    return f"{alias}_v{now.strftime('%Y%m%dT%H%M%S%f')}_{uuid.uuid4().hex[:6]}"


_stamp_lock = threading.Lock()
_last_stamp = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CollectionLayout:
    """A collection's vectors (dense: name -> size; "" is the unnamed vector of record
    collections), their distance (all dense vectors of a collection share it), sparse vector
    names, and the metadata stored with it."""

    name: str
    dense: Mapping[str, int]
    distance: str  # "dot" or "cosine"
    sparse: tuple[str, ...] = ()
    metadata: Mapping[str, object] = field(default_factory=dict)
    multi: tuple[str, ...] = ()  # dense vectors holding several vectors a point (max-sim)
    # A partition of a pool shared with other collections of the same vectors (an engine
    # without pools keeps every collection apart whatever this says).
    pooled: bool = False


@dataclass(frozen=True)
class StoredPoint:
    """A point as stored: id, every vector by name (dense as a float list, a multivector as a
    list of them, sparse as indices and values), and its payload."""

    id: str
    dense: Mapping[str, Sequence[float] | Sequence[Sequence[float]]]
    sparse: Mapping[str, tuple[list[int], list[float]]]
    payload: Mapping[str, object]


def point_vectors(vectors: Mapping[str, VectorBatch], index: int) -> dict[str, object]:
    """The vectors of the `index`-th point of a batch, as plain lists (a multivector of no rows
    is left out: the point has no such vector)."""
    values: dict[str, object] = {}
    for name, column in vectors.items():
        value = column[index]
        if isinstance(value, np.ndarray):
            if value.ndim == 2 and value.shape[0] == 0:
                continue
            values[name] = value.tolist()
        else:
            values[name] = value
    return values
