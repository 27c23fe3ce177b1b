"""The keys of each FAQ: an owner key (the FAQ's admin routes) and public ask keys (ask,
sources and feedback only, for pages and widgets), beside the service key (ADMIN_API_KEY, which
reaches every FAQ and alone creates and deletes them).

A key is `fk_<id>_<secret>`. The store keeps the id, the FAQ, the scope and a SHA-256 of the
whole key, never the key itself: it is shown once, when created. A key is found by its id and
its hash compared in constant time. The secret has 192 random bits, so a plain hash is enough
(a slow password hash protects low-entropy secrets; this one cannot be guessed).

Keys are read into memory and read again every CACHE_SECONDS (and at once after a change made
by this process), so a key revoked through another replica stops working within that time."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Literal

from app.store.base import FaqStore

Scope = Literal["owner", "public"]
SCOPES: tuple[Scope, ...] = ("owner", "public")
CACHE_SECONDS = 5.0
# A key that is not in memory reads the store again at most this often: random keys sent by a
# client do not turn into one store read each.
MISS_REFRESH_SECONDS = 1.0
PREFIX = "fk"
MAX_LABEL = 100
# Keys a FAQ may have at once: every replica reads all keys every CACHE_SECONDS, so their
# number stays small (revoke one to make another).
MAX_KEYS_PER_FAQ = 100
_NAMESPACE = uuid.UUID("0f9d6c1e-8a4b-4b2e-a7c3-2d5e9f1b6a48")


class KeyNotFound(LookupError):
    pass


class TooManyKeys(ValueError):
    pass


@dataclass(frozen=True)
class KeyRecord:
    id: str
    faq: str
    scope: Scope
    digest: str
    created: float
    label: str = ""

    @property
    def prefix(self) -> str:
        """What identifies the key in lists, without being usable."""
        return f"{PREFIX}_{self.id}"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _parse(key: str) -> str | None:
    """The key id of a key of our shape, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


def _record_id(key_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, key_id))


class KeyRing:
    def __init__(self, store: FaqStore, collection: str):
        self.store = store
        self.name = f"{collection}_keys"
        self._lock = threading.Lock()
        self._by_id: dict[str, KeyRecord] = {}
        self._loaded = 0.0
        self._missed = 0.0

    def create(self, faq: str, scope: Scope, label: str = "") -> tuple[KeyRecord, str]:
        """A new key of `faq` with `scope`: its record and the key itself (shown once)."""
        if scope not in SCOPES:
            raise ValueError(f"a key's scope is one of {', '.join(SCOPES)}, not {scope!r}")
        if len(self.of(faq)) >= MAX_KEYS_PER_FAQ:
            raise TooManyKeys(f"this FAQ has {MAX_KEYS_PER_FAQ} keys, the most it may have: revoke one first")
        key_id = secrets.token_hex(6)
        key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(24)}"
        record = KeyRecord(
            id=key_id, faq=faq, scope=scope, digest=_digest(key), created=time.time(), label=label[:MAX_LABEL]
        )
        self.store.put_state(self.name, _record_id(key_id), asdict(record))
        with self._lock:
            self._by_id[key_id] = record
        return record, key

    def of(self, faq: str) -> list[KeyRecord]:
        """The keys of `faq`, oldest first."""
        self._refresh(force=True)
        with self._lock:
            return sorted((r for r in self._by_id.values() if r.faq == faq), key=lambda r: r.created)

    def revoke(self, faq: str, key_id: str) -> KeyRecord:
        """Remove the key `key_id` (its id or its prefix) of `faq`; KeyNotFound when `faq` has none such."""
        key_id = key_id.removeprefix(f"{PREFIX}_")
        self._refresh(force=True)
        with self._lock:
            record = self._by_id.get(key_id)
        if record is None or record.faq != faq:
            # Another FAQ's key is "not found" here, as a key that does not exist.
            raise KeyNotFound(f"this FAQ has no key {PREFIX}_{key_id}")
        self.store.delete_points(self.name, [_record_id(key_id)])
        with self._lock:
            self._by_id.pop(key_id, None)
        return record

    def drop_faq(self, faq: str) -> int:
        """Remove every key of `faq` (the FAQ is being deleted); how many there were."""
        records = self.of(faq)
        if records:
            self.store.delete_points(self.name, [_record_id(r.id) for r in records])
            with self._lock:
                for record in records:
                    self._by_id.pop(record.id, None)
        return len(records)

    def resolve(self, key: str) -> KeyRecord | None:
        """The record of `key` when it is a valid key, else None."""
        key_id = _parse(key)
        if key_id is None:
            return None
        self._refresh()
        with self._lock:
            record = self._by_id.get(key_id)
        if record is None:
            now = time.monotonic()
            if now - self._missed >= MISS_REFRESH_SECONDS:
                self._missed = now
                self._refresh(force=True)
                with self._lock:
                    record = self._by_id.get(key_id)
        if record is None:
            return None
        return record if secrets.compare_digest(_digest(key), record.digest) else None

    def _refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._loaded < CACHE_SECONDS:
            return
        loaded: dict[str, KeyRecord] = {}
        for _, payload, _ in self.store.records(self.name):
            try:
                record = KeyRecord(
                    id=str(payload["id"]),
                    faq=str(payload["faq"]),
                    scope=payload["scope"],
                    digest=str(payload["digest"]),
                    created=float(payload.get("created", 0.0)),
                    label=str(payload.get("label", "")),
                )
            except (KeyError, TypeError, ValueError):
                continue  # not a key record
            loaded[record.id] = record
        with self._lock:
            self._by_id = loaded
            self._loaded = now
