"""All access to Qdrant: versioned FAQ collections behind an alias, and answer search.

The same code talks to a Qdrant server (QDRANT_URL) and to qdrant-client's embedded local
mode (QDRANT_PATH); only the client construction differs.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from app.core.config import StoreSettings
from app.core.data import FaqEntry

logger = logging.getLogger(__name__)

ANSWER_VECTOR = "answer"
QUESTION_VECTOR = "question"
# A fixed namespace makes point ids a pure function of the entry: re-indexing is idempotent.
POINT_NAMESPACE = uuid.UUID("6f1c1a8e-7a0b-4a53-9d1f-4b2f8f0e6c11")


class StoreError(RuntimeError):
    """The vector store failed; the message says how."""


class StoreUnavailable(StoreError):
    """Qdrant cannot be reached (server down, or the embedded folder is locked)."""


class CollectionMissing(StoreError):
    """The collection alias does not exist yet (nothing was indexed)."""


class MissingVector(StoreError):
    """The collection has no vectors of the asked name (indexed answers-only)."""


RRF_K = 60
FUSION_METHODS = ("max", "sum", "rrf")
SEARCH_MODES = ("answer", "fused")
QUESTION_ENCODERS = ("servable", "base")


@dataclass(frozen=True)
class SearchSettings:
    """How a question is matched: against answers only, or answers and the entries' questions."""

    mode: str = "answer"
    method: str = "max"
    question_weight: float = 0.5
    candidates: int = 50
    # Encode stored questions with their page's words (see data.page_context).
    question_context: bool = False
    # Which model encodes the question side: the trained servable, or the base sentence
    # encoder saved inside the servable (question-to-question is plain semantic similarity,
    # which the base model was trained for; training for question-to-answer does not help it).
    question_encoder: str = "servable"

    def __post_init__(self) -> None:
        if self.mode not in SEARCH_MODES:
            raise ValueError(f"unknown search mode '{self.mode}': use {', '.join(SEARCH_MODES)}")
        if self.method not in FUSION_METHODS:
            raise ValueError(f"unknown fusion method '{self.method}': use {', '.join(FUSION_METHODS)}")
        if self.question_encoder not in QUESTION_ENCODERS:
            raise ValueError(
                f"unknown question encoder '{self.question_encoder}': use {', '.join(QUESTION_ENCODERS)}"
            )
        if not 0.0 <= self.question_weight <= 1.0:
            raise ValueError("question_weight must be between 0 and 1")

    @property
    def vectors(self) -> tuple[str, ...]:
        """Named vectors the index needs for this search."""
        return (ANSWER_VECTOR,) if self.mode == "answer" else (ANSWER_VECTOR, QUESTION_VECTOR)


@dataclass(frozen=True)
class Hit:
    id: str
    answer: str
    question: str
    source: str
    filename: str
    score: float


@dataclass(frozen=True)
class CollectionInfo:
    alias: str
    collection: str
    points: int
    vectors: tuple[str, ...]


def point_id(entry: FaqEntry) -> str:
    key = "\x1f".join((entry.question, entry.answer, entry.source, entry.filename))
    return str(uuid.uuid5(POINT_NAMESPACE, key))


def _client_for(settings: StoreSettings) -> QdrantClient:
    if settings.qdrant_url:
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        # No version handshake at start-up: a server that is down must not stop the service from
        # starting; /ready reports it instead.
        return QdrantClient(url=settings.qdrant_url, api_key=api_key, timeout=10, check_compatibility=False)
    path = settings.embedded_path
    assert path is not None  # no URL means an embedded path, by construction of the settings
    path.mkdir(parents=True, exist_ok=True)
    try:
        return QdrantClient(path=str(path))
    except RuntimeError as exc:
        if "already accessed" in str(exc):
            raise StoreUnavailable(
                f"the embedded Qdrant store at {path} is in use by another process "
                "(is `faq serve` running? hand the job to it with --url)"
            ) from None
        raise


class FaqStore:
    def __init__(self, client: QdrantClient, *, embedded: bool, description: str):
        self.client = client
        self.embedded = embedded
        self.description = description
        # qdrant-client's local mode is not safe under concurrent writers (a known upstream
        # bug) and deletes a collection under a running search; in embedded mode every call
        # goes through this lock. A server does its own concurrency control.
        self._lock: threading.RLock | None = threading.RLock() if embedded else None

    @classmethod
    def open(cls, settings: StoreSettings) -> FaqStore:
        return cls(
            _client_for(settings), embedded=settings.qdrant_url is None, description=settings.describe()
        )

    @classmethod
    def in_memory(cls) -> FaqStore:
        return cls(QdrantClient(location=":memory:"), embedded=True, description="in-memory Qdrant")

    def close(self) -> None:
        with self._locked():
            self.client.close()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock if self._lock is not None else nullcontext():
            try:
                yield
            except StoreError:
                raise
            except (ResponseHandlingException, ConnectionError, TimeoutError) as exc:
                raise StoreUnavailable(f"{self.description} is unreachable: {exc}") from exc
            except UnexpectedResponse as exc:
                if exc.status_code == 404:
                    raise CollectionMissing(
                        f"{self.description}: {exc.reason_phrase or 'not found'}"
                    ) from exc
                raise StoreError(f"{self.description} answered {exc.status_code}: {exc.content!r}") from exc

    # ---- collections and aliases --------------------------------------------------------
    def resolve_alias(self, alias: str) -> str | None:
        with self._locked():
            for item in self.client.get_aliases().aliases:
                if item.alias_name == alias:
                    return item.collection_name
        return None

    def collection_info(self, alias: str) -> CollectionInfo:
        collection = self.resolve_alias(alias)
        if collection is None:
            raise CollectionMissing(f"collection '{alias}' does not exist: index the FAQ with `faq index`")
        with self._locked():
            info = self.client.get_collection(collection)
            count = self.client.count(collection, exact=True).count
        vectors = info.config.params.vectors
        names = tuple(sorted(vectors)) if isinstance(vectors, dict) else ()
        return CollectionInfo(alias=alias, collection=collection, points=count, vectors=names)

    def versions(self, alias: str) -> list[str]:
        """Collections that are versions of `alias` (alias_YYYYmmddTHHMMSS_xxxxxx)."""
        with self._locked():
            names = [c.name for c in self.client.get_collections().collections]
        return sorted(n for n in names if n.startswith(f"{alias}_v"))

    def create_version(self, alias: str, vector_size: int, vector_names: Sequence[str]) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        name = f"{alias}_v{stamp}_{uuid.uuid4().hex[:6]}"
        with self._locked():
            self.client.create_collection(
                name,
                vectors_config={
                    vector: models.VectorParams(size=vector_size, distance=models.Distance.COSINE)
                    for vector in vector_names
                },
            )
            if not self.embedded:  # the embedded store filters by scanning; it has no payload indexes
                self.client.create_payload_index(name, "source", models.PayloadSchemaType.KEYWORD)
        return name

    def upsert(self, collection: str, entries: Sequence[FaqEntry], vectors: dict[str, np.ndarray]) -> None:
        # The columnar Batch form skips building one PointStruct per entry.
        batch = models.Batch(
            ids=[point_id(entry) for entry in entries],
            vectors={name: matrix.tolist() for name, matrix in vectors.items()},
            payloads=[entry.to_payload() for entry in entries],
        )
        with self._locked():
            self.client.upsert(collection, points=batch, wait=True)

    def count(self, collection: str) -> int:
        with self._locked():
            return self.client.count(collection, exact=True).count

    def point_alias_to(self, alias: str, collection: str) -> str | None:
        """Atomically move `alias` to `collection`; returns the collection it pointed at before."""
        previous = self.resolve_alias(alias)
        operations: list[models.AliasOperations] = []
        if previous is not None:
            operations.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
        operations.append(
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=collection, alias_name=alias)
            )
        )
        with self._locked():
            self.client.update_collection_aliases(change_aliases_operations=operations)
        return previous

    def drop(self, collection: str) -> None:
        with self._locked():
            self.client.delete_collection(collection)

    # ---- search ---------------------------------------------------------------------------
    def search(
        self,
        alias: str,
        query: np.ndarray,
        *,
        question_query: np.ndarray | None = None,
        limit: int = 5,
        source: str | None = None,
        score_threshold: float | None = None,
        fusion: SearchSettings | None = None,
    ) -> list[Hit]:
        """Nearest entries to `query` (a question embedding), best first. `question_query` is the
        question embedded for the question side when that side has its own encoder.

        With `fusion.mode == "answer"` only the answer vectors are searched; with "fused" the
        entries' question vectors are searched too and the two scores combined (see
        SearchSettings). A collection indexed with answers only is searched by answers.
        """
        fusion = fusion or SearchSettings()
        query_filter = None
        if source:
            query_filter = models.Filter(
                must=[models.FieldCondition(key="source", match=models.MatchValue(value=source))]
            )
        if fusion.mode == "answer":
            points = self._query(alias, query, ANSWER_VECTOR, query_filter, limit, score_threshold)
            return [_hit(point, point.score) for point in points]
        # Each side is searched deeper than `limit`, so entries strong on one side only are
        # still scored on both before the cut.
        depth = max(limit, fusion.candidates)
        by_answer = self._query(alias, query, ANSWER_VECTOR, query_filter, depth, None)
        try:
            question_side = query if question_query is None else question_query
            by_question = self._query(alias, question_side, QUESTION_VECTOR, query_filter, depth, None)
        except MissingVector:
            logger.warning("collection '%s' has no question vectors: searching answers only", alias)
            by_question = []
        hits = fuse(by_answer, by_question, fusion)
        if score_threshold is not None:
            hits = [hit for hit in hits if hit.score >= score_threshold]
        return hits[:limit]

    def _query(
        self,
        alias: str,
        query: np.ndarray,
        using: str,
        query_filter: models.Filter | None,
        limit: int,
        score_threshold: float | None,
    ) -> list[models.ScoredPoint]:
        try:
            with self._locked():
                response = self.client.query_points(
                    alias,
                    query=query.tolist(),
                    using=using,
                    query_filter=query_filter,
                    limit=limit,
                    score_threshold=score_threshold,
                    with_payload=True,
                )
        except (ValueError, StoreError) as exc:
            text = str(exc).lower()
            # Server: "Not existing vector name"; embedded: "Dense vector question is not found".
            if "vector name" in text or f"vector {using} is not found" in text:
                raise MissingVector(f"collection '{alias}' has no '{using}' vectors") from None
            if isinstance(exc, ValueError) and "not found" in text:
                # the embedded client's word for an unknown collection
                raise CollectionMissing(
                    f"collection '{alias}' does not exist: index the FAQ with `faq index`"
                ) from None
            raise
        return list(response.points)


def fuse(
    by_answer: Sequence[models.ScoredPoint], by_question: Sequence[models.ScoredPoint], fusion: SearchSettings
) -> list[Hit]:
    """Combine answer-side and question-side results into one ranking.

    - max: an entry scores its better cosine similarity of the two;
    - sum: question_weight * question score + (1 - question_weight) * answer score; an entry
      missing from one side's candidates gets that side's lowest candidate score (an upper
      bound of its real score there);
    - rrf: reciprocal rank fusion, 1/(60 + rank) summed over both sides (rank-only).
    """
    answer_scores = {str(p.id): p.score for p in by_answer}
    question_scores = {str(p.id): p.score for p in by_question}
    points = {str(p.id): p for p in (*by_question, *by_answer)}
    if not question_scores:
        return [_hit(p, p.score) for p in by_answer]
    floor_a = min(answer_scores.values(), default=0.0)
    floor_q = min(question_scores.values(), default=0.0)
    if fusion.method == "rrf":
        answer_rank = {str(p.id): rank for rank, p in enumerate(by_answer, start=1)}
        question_rank = {str(p.id): rank for rank, p in enumerate(by_question, start=1)}

        def combined(pid: str) -> float:
            return sum(1.0 / (RRF_K + ranks[pid]) for ranks in (answer_rank, question_rank) if pid in ranks)
    elif fusion.method == "max":

        def combined(pid: str) -> float:
            return max(answer_scores.get(pid, floor_a), question_scores.get(pid, floor_q))
    else:
        w = fusion.question_weight

        def combined(pid: str) -> float:
            return w * question_scores.get(pid, floor_q) + (1 - w) * answer_scores.get(pid, floor_a)

    ranked = sorted(points, key=combined, reverse=True)
    return [_hit(points[pid], combined(pid)) for pid in ranked]


def _hit(point: models.ScoredPoint, score: float) -> Hit:
    payload = point.payload or {}
    return Hit(
        id=str(point.id),
        answer=str(payload.get("answer", "")),
        question=str(payload.get("question", "")),
        source=str(payload.get("source", "")),
        filename=str(payload.get("filename", "")),
        score=float(score),
    )
