"""How to keep many FAQs in one embedded store: a collection (Edge shard) per FAQ, or Qdrant's
payload partitioning (a pool shard shared by the FAQs' versions, the collection's name a keyword
with a tenant index), both through the service's own store (`EdgeStore`, with
FAQ_EDGE_POOL_MAX_ENTRIES=0 and with pools), measured in one run.

    python -m benchmarks.tenancy_scale [--layouts 1000x100,10x10000] [--queries 300]
                                       [--pool-sizes 500,1000,2000,5000,10000] [--output F]

For each layout (FAQs x entries a FAQ) and each storage, in a child process of its own (so
memory is its own): the points of every FAQ with the service's vectors (answer and question,
384 dimensions, dot product, a sparse lexical vector) and payloads of real size; then
- the asked FAQ's store time for one /ask (the service's two dense queries of 50), p50/p99,
  over FAQs picked at random, beside a store holding only one FAQ of the same size;
- creating one more FAQ and writing its entries, and deleting one, with their times;
- the same /ask store time while another thread creates and fills FAQs (the write contention
  a FAQ's reindex puts on the others' askers: Edge's calls hold the GIL);
- resident memory added, disk, and the time to reopen the store and answer a first question.

`--pool-sizes`: where a FAQ stops being worth a partition: one FAQ of each size asked in a
store that also holds 1,000 FAQs of 100 entries in the pool, once pooled and once as a shard
of its own (the store's FAQ_EDGE_POOL_MAX_ENTRIES is chosen from it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from app.store.edge_engine import EdgeStore
from benchmarks.store_scale import (
    DIM,
    _clustered,
    _disk_mb,
    _percentiles,
    _rss_mb,
    _stage,
    _unit,
    markdown_table,
)

logger = logging.getLogger("bench.tenancy")
DEFAULT_OUTPUT = Path("var/bench/tenancy_scale.json")
FILLER_Q, FILLER_A = "q" * 90, "a" * 600


def _vectors(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, list]:
    centres = _unit(rng.normal(size=(max(1, n // 50), DIM)))
    sparse = []
    for _ in range(n):
        indices = sorted({int(i) for i in rng.zipf(1.3, size=12) % 30000})
        sparse.append((indices, [1.0] * len(indices)))
    return _clustered(rng, centres, n), _clustered(rng, centres, n), sparse


class StoreLayout:
    """A FAQ is an alias of the service's store, its entries a version collection: a shard of
    its own (`pool_max_points` 0) or a partition of the pool."""

    pool_max_points = 0

    def __init__(self, folder: Path):
        self.folder = folder
        self.store = self._open()

    def _open(self) -> EdgeStore:
        return EdgeStore(
            folder_of(self.folder), description="tenancy bench", pool_max_points=self.pool_max_points
        )

    def write_faq(self, faq: str, rng: np.random.Generator, n: int) -> None:
        from qdrant_client import models

        from app.domain.entry import FaqEntry
        from app.store.edge_engine import EXACT_SEARCH_POINTS

        name = self.store.create_version(
            faq, {"answer": DIM, "question": DIM}, sparse=["lexical"], expected_points=n
        )
        answers, questions, sparse = _vectors(rng, n)
        entries = [FaqEntry(f"{FILLER_Q}{i}", f"{FILLER_A}{i}", "s", "p") for i in range(n)]
        for start in range(0, n, 1000):
            part = slice(start, start + 1000)
            self.store.upsert(
                name,
                entries[part],
                {
                    "answer": answers[part],
                    "question": questions[part],
                    "lexical": [models.SparseVector(indices=i, values=v) for i, v in sparse[part]],
                },
                ids=[str(uuid.uuid4()) for _ in entries[part]],
            )
        if n >= EXACT_SEARCH_POINTS and not self.store.layout(name).pooled:
            # Below this a version is searched exactly and sealing only flushes it, at the price
            # of a process start (about half a second): left out, or 1,000 FAQs take ten minutes.
            self.store.seal(name)
        self.store.point_alias_to(faq, name)

    def ask(self, faq: str, probe: np.ndarray) -> None:
        self.store.query_batch(faq, [probe], "answer", limit=50, sources=[None])
        self.store.query_batch(faq, [probe], "question", limit=50, sources=[None])

    def count(self, faq: str) -> int:
        return self.store.collection_info(faq).points if self.store.versions(faq) else 0

    def delete_faq(self, faq: str) -> None:
        for version in self.store.versions(faq):
            self.store.drop(version)

    def reopen(self) -> None:
        self.store.close()
        self.store = self._open()

    def close(self) -> None:
        self.store.close()


class Pooled(StoreLayout):
    """Every FAQ of at most the pool's size a partition of one shard, told apart by the tenant
    index on the collection's name."""

    pool_max_points = 1_000_000


def folder_of(folder: Path) -> Path:
    return folder / "edge"


STORAGES: dict[str, type[StoreLayout]] = {
    "collection-per-faq": StoreLayout,
    "payload-partition": Pooled,
}


def _asks(storage: StoreLayout, faqs: list[str], probes: np.ndarray, rng: random.Random) -> list[float]:
    timings = []
    for probe in probes:
        faq = rng.choice(faqs)
        started = time.perf_counter()
        storage.ask(faq, probe)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def run_storage(kind: str, faqs: int, entries: int, queries: int, seed: int = 11) -> dict:
    """One storage at one layout, in this process (the parent runs each in a child)."""
    rng = np.random.default_rng(seed)
    picker = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="faq-tenancy-"))
    rss_before = _rss_mb()
    storage = STORAGES[kind](folder)
    names = [f"faq-{i}" for i in range(faqs)]
    started = time.perf_counter()
    for i, name in enumerate(names):
        if i and i % 100 == 0:
            _stage(f"{kind}: wrote {i} FAQs")
        storage.write_faq(name, rng, entries)
    build_s = time.perf_counter() - started
    shards = sum(1 for path in folder.rglob("shard") if path.is_dir())
    probes = _unit(rng.normal(size=(queries, DIM)))
    _asks(storage, names, probes[:20], picker)  # first opens out of the measurement
    quiet = _asks(storage, names, probes, picker)

    started = time.perf_counter()
    storage.write_faq("new-faq", rng, entries)
    create_s = time.perf_counter() - started
    created_points = storage.count("new-faq")
    started = time.perf_counter()
    storage.delete_faq("new-faq")
    delete_s = time.perf_counter() - started
    left_points = storage.count("new-faq")

    # Askers of other FAQs while one FAQ after another is created and filled.
    stop = threading.Event()
    created = 0

    def writer() -> None:
        nonlocal created
        writes = np.random.default_rng(seed + 1)
        while not stop.is_set():
            storage.write_faq(f"busy-{created}", writes, entries)
            created += 1

    thread = threading.Thread(target=writer)
    thread.start()
    busy = _asks(storage, names, probes, picker)
    # Asks measured "under writes" must overlap at least one whole write: a small layout's
    # probes can all be answered before the first FAQ is filled.
    while created == 0 and thread.is_alive():
        busy += _asks(storage, names, probes, picker)
    stop.set()
    thread.join()

    rss = _rss_mb() - rss_before
    started = time.perf_counter()
    storage.reopen()
    storage.ask(names[0], probes[0])
    reopen_s = time.perf_counter() - started
    storage.close()
    disk = _disk_mb(folder)
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "storage": kind,
        "faqs": faqs,
        "entries_per_faq": entries,
        "build_s": round(build_s, 1),
        "shards": shards,
        **{f"ask_{k}": v for k, v in _percentiles(quiet).items()},
        **{f"busy_ask_{k}": v for k, v in _percentiles(busy).items()},
        "faqs_written_meanwhile": created,
        "create_faq_s": round(create_s, 3),
        "new_faq_points": created_points,
        "points_left_after_delete": left_points,
        "delete_faq_s": round(delete_s, 3),
        "rss_mb": round(rss, 1),
        "disk_mb": round(disk, 1),
        "reopen_first_ask_s": round(reopen_s, 3),
    }


def run_pool_size(size: int, queries: int, seed: int = 13) -> dict:
    """One FAQ of `size` entries asked beside 1,000 FAQs of 100 in the pool: pooled, and as a
    shard of its own (in this process; the parent runs each size in a child)."""
    rng = np.random.default_rng(seed)
    picker = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="faq-pool-size-"))
    storage = Pooled(folder)
    for i in range(POOL_NEIGHBOURS):
        storage.write_faq(f"faq-{i}", rng, 100)
    storage.write_faq("pooled", rng, size)
    storage.store.pool_max_points = 0
    storage.write_faq("own", rng, size)
    assert storage.store.layout(storage.store.resolve_alias("pooled") or "").pooled
    probes = _unit(rng.normal(size=(queries, DIM)))
    result: dict[str, object] = {"entries": size, "pool_points": POOL_NEIGHBOURS * 100 + size}
    for name in ("pooled", "own"):
        _asks(storage, [name], probes[:20], picker)
        for key, value in _percentiles(_asks(storage, [name], probes, picker)).items():
            result[f"{name}_{key}"] = value
    storage.close()
    shutil.rmtree(folder, ignore_errors=True)
    return result


POOL_NEIGHBOURS = 1000


def _in_child(kind: str, faqs: int, entries: int, queries: int, timeout: float) -> dict:
    command = [
        sys.executable,
        "-m",
        "benchmarks.tenancy_scale",
        "--child",
        kind,
        str(faqs),
        str(entries),
        str(queries),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"storage": kind, "faqs": faqs, "entries_per_faq": entries, "error": f"over {timeout:.0f} s"}
    if done.returncode != 0:
        return {
            "storage": kind,
            "faqs": faqs,
            "entries_per_faq": entries,
            "error": done.stderr.strip()[-300:],
        }
    return json.loads(done.stdout.strip().splitlines()[-1])


COLUMNS = [
    ("storage", "storage"),
    ("faqs", "FAQs"),
    ("entries_per_faq", "entries/FAQ"),
    ("shards", "shards"),
    ("ask_p50_ms", "ask p50 ms"),
    ("ask_p99_ms", "ask p99 ms"),
    ("busy_ask_p50_ms", "ask p50, FAQs written meanwhile"),
    ("busy_ask_p99_ms", "its p99"),
    ("create_faq_s", "create+fill one s"),
    ("delete_faq_s", "delete one s"),
    ("rss_mb", "RSS MB"),
    ("disk_mb", "disk MB"),
    ("reopen_first_ask_s", "reopen + first ask s"),
    ("build_s", "build s"),
]


SIZE_COLUMNS = [
    ("entries", "FAQ entries"),
    ("pooled_p50_ms", "pooled ask p50 ms"),
    ("pooled_p99_ms", "its p99"),
    ("own_p50_ms", "own shard ask p50 ms"),
    ("own_p99_ms", "its p99"),
    ("pool_points", "points in the pool"),
]


def table(results: list[dict]) -> str:
    return markdown_table(COLUMNS, results, lead=3)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.tenancy_scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--layouts",
        default="1000x100,10x10000",
        help="FAQs x entries a FAQ, comma-separated (a one-FAQ store of each size is measured too).",
    )
    parser.add_argument("--queries", type=int, default=300, help="Asks timed in each phase.")
    parser.add_argument(
        "--pool-sizes",
        default="",
        help="FAQ sizes to ask pooled and as a shard of their own beside 1,000 pooled FAQs of 100 "
        "(comma-separated; none by default).",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="Seconds one child may take.")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Where the JSON goes.")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, faqs, entries, queries = args.child
        if kind == "pool-size":
            sys.stdout.write(json.dumps(run_pool_size(int(entries), int(queries))) + "\n")
        else:
            sys.stdout.write(json.dumps(run_storage(kind, int(faqs), int(entries), int(queries))) + "\n")
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    layouts = []
    for part in filter(None, (p.strip() for p in args.layouts.split(","))):
        try:
            faqs, entries = (int(x) for x in part.lower().split("x"))
        except ValueError:
            parser.error(f"--layouts takes FAQSxENTRIES pairs such as 1000x100, not {part!r}")
        if faqs < 1 or entries < 1:
            parser.error(f"--layouts: {part!r} needs at least one FAQ of one entry")
        layouts.append((faqs, entries))
    try:
        pool_sizes = [int(x) for x in args.pool_sizes.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--pool-sizes takes whole numbers, not {args.pool_sizes!r}")
    results = []
    for faqs, entries in layouts:
        for kind in STORAGES:
            for count in sorted({1, faqs}):
                logger.info("%s: %d FAQs of %d entries", kind, count, entries)
                results.append(_in_child(kind, count, entries, args.queries, args.timeout))
                logger.info("%s", results[-1])
    sizes = []
    for size in pool_sizes:
        logger.info("a FAQ of %d entries beside %d pooled FAQs", size, POOL_NEIGHBOURS)
        sizes.append(_in_child("pool-size", 1, size, args.queries, args.timeout))
        logger.info("%s", sizes[-1])
    report = {
        "cpus": os.cpu_count(),
        "dimensions": DIM,
        "queries": args.queries,
        "results": results,
        "pool_sizes": sizes,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    text = table(results) if results else ""
    if sizes:
        text += "\n\n" + markdown_table(SIZE_COLUMNS, sizes, lead=1)
    sys.stdout.write(text + f"\n\nJSON: {args.output}\n")


if __name__ == "__main__":
    main()
