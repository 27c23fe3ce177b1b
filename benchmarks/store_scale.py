"""How the store's cost grows with the FAQ: Qdrant Edge (the embedded engine) beside
qdrant-client's local mode (the embedded engine of earlier releases), measured in one run.

    faq bench --scale [--sizes 10000,100000] [--local-max 100000] [--queries 200] [--output F]
    (make bench runs it after the service benchmark)

For each size: synthetic unit vectors on both sides (answer and question, 384 dimensions, the
service's dot product), clustered as sentence embeddings are (clusters of 50 around random
centres, a point's cosine to its centre about 0.7; structureless random vectors are a case no
approximate index handles: HNSW finds a third of their true neighbours), with payloads of
real size (question ~90 characters, answer ~600, source and filename, content id), and a
sparse vector a point like the lexical side's. Measured:
load (upsert) time, index build time (Edge's `seal`, in its own process, as the index job runs
it), query latency p50/p99 for a dense query, a `source`-filtered one (1 of 6 sources), a sparse
one, and the service's fused query (both sides in one batch); recall@10 of the dense query
against exact search (numpy over the same vectors); resident memory added by the store, and
disk. Each engine runs in a child process of its own, so memory is its own.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from qdrant_client import models

logger = logging.getLogger("bench.scale")
DEFAULT_OUTPUT = Path("var/bench/store_scale.json")
DIM = 384
SOURCES = ("aws", "ibm", "gcp", "hetzner", "azure", "yandex_cloud")
LOAD_BATCH = 1000


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _disk_mb(path: Path) -> float:
    # blocks allocated, not apparent sizes: Edge preallocates its WAL and storage as sparse files
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file()) / 2**20


CLUSTER = 50
# Noise around a centre: |noise| = sqrt(DIM) * SPREAD, so the cosine to the centre is about
# 1 / sqrt(1 + DIM * SPREAD**2) = 0.7.
SPREAD = 0.052


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _clustered(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    picked = centres[rng.integers(0, len(centres), n)]
    return _unit(picked + SPREAD * rng.normal(size=(n, DIM)))


def _sparse(rng: np.random.Generator) -> models.SparseVector:
    indices = sorted({int(i) for i in rng.zipf(1.3, size=12) % 30000})
    return models.SparseVector(indices=indices, values=[1.0] * len(indices))


def _stage(text: str) -> None:
    """Progress on stderr: a child stopped at its time limit still says how far it got."""
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} {text}\n")
    sys.stderr.flush()


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(ordered[len(ordered) // 2], 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3),
    }


def run_engine(engine: str, size: int, queries: int, seed: int = 7) -> dict:
    """One engine at one size, in this process (the parent runs each in a child)."""
    from app.domain.entry import FaqEntry
    from app.store.base import FaqStore

    rng = np.random.default_rng(seed)
    folder = Path(tempfile.mkdtemp(prefix="faq-scale-"))
    rss_before = _rss_mb()
    store: FaqStore
    if engine == "edge":
        from app.store.edge_engine import EdgeStore

        store = EdgeStore(folder / "edge", description="scale bench")
    else:  # imported only here: the Edge measurement runs without the service's settings stack
        from app.store.client_engine import ClientStore

        store = ClientStore.in_memory()
    alias = "faq"
    name = store.create_version(alias, {"answer": DIM, "question": DIM}, sparse=["lexical"])
    answers_all = np.empty((size, DIM), dtype=np.float32)
    centres = _unit(rng.normal(size=(max(1, size // CLUSTER), DIM)))
    filler_q, filler_a = "q" * 90, "a" * 600
    started = time.perf_counter()
    for start in range(0, size, LOAD_BATCH):
        if start and start % (LOAD_BATCH * 100) == 0:
            _stage(f"loaded {start:,} points")
        n = min(LOAD_BATCH, size - start)
        answers, questions = _clustered(rng, centres, n), _clustered(rng, centres, n)
        answers_all[start : start + n] = answers
        entries = [
            FaqEntry(
                f"{filler_q}{start + i}", f"{filler_a}{start + i}", SOURCES[(start + i) % 6], f"page-{i % 50}"
            )
            for i in range(n)
        ]
        store.upsert(
            name,
            entries,
            {"answer": answers, "question": questions, "lexical": [_sparse(rng) for _ in range(n)]},
            ids=[str(uuid.UUID(int=start + i + 1)) for i in range(n)],
        )
    load_s = time.perf_counter() - started
    _stage(f"loaded {size:,} points in {load_s:.1f} s; building the index")
    started = time.perf_counter()
    store.seal(name)
    index_s = time.perf_counter() - started
    _stage(f"index built in {index_s:.1f} s; querying")
    store.point_alias_to(alias, name)

    probes = _clustered(rng, centres, queries)
    timings: dict[str, list[float]] = {"dense": [], "filtered": [], "sparse": [], "fused": []}
    recall_hits = 0
    for i, probe in enumerate(probes):
        t = time.perf_counter()
        found = store.query(alias, probe, "answer", limit=10)
        timings["dense"].append((time.perf_counter() - t) * 1000)
        exact = set(np.argpartition(-(answers_all @ probe), 10)[:10].tolist())
        recall_hits += len({uuid.UUID(p.id).int - 1 for p in found} & exact)
        t = time.perf_counter()
        store.query(alias, probe, "answer", limit=50, source=SOURCES[i % 6])
        timings["filtered"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        store.query(alias, _sparse(rng), "lexical", limit=50)
        timings["sparse"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        store.query_batch(alias, [probe], "answer", limit=50, sources=[None])
        store.query_batch(alias, [probe], "question", limit=50, sources=[None])
        timings["fused"].append((time.perf_counter() - t) * 1000)
    result = {
        "engine": engine,
        "entries": size,
        "load_s": round(load_s, 2),
        "index_s": round(index_s, 2),
        "recall_at_10": round(recall_hits / (10 * queries), 4),
        "rss_mb": round(_rss_mb() - rss_before, 1),
        "disk_mb": round(_disk_mb(folder), 1) if engine == "edge" else None,
        **{f"{kind}_{k}": v for kind, samples in timings.items() for k, v in _percentiles(samples).items()},
    }
    store.close()
    shutil.rmtree(folder, ignore_errors=True)
    return result


def _in_child(engine: str, size: int, queries: int, timeout: float) -> dict:
    command = [sys.executable, "-m", "benchmarks.store_scale", "--child", engine, str(size), str(queries)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        stages = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
        reached = stages.strip().splitlines()[-1:] or ["nothing"]
        return {
            "engine": engine,
            "entries": size,
            "error": f"did not finish in {timeout:.0f} s ({reached[0]})",
        }
    if done.returncode != 0:
        return {"engine": engine, "entries": size, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


COLUMNS = [
    ("engine", "engine"),
    ("entries", "entries"),
    ("load_s", "load s"),
    ("index_s", "index s"),
    ("dense_p50_ms", "dense p50"),
    ("dense_p99_ms", "dense p99"),
    ("filtered_p50_ms", "filtered p50"),
    ("sparse_p50_ms", "sparse p50"),
    ("fused_p50_ms", "fused p50"),
    ("recall_at_10", "recall@10"),
    ("rss_mb", "RSS MB"),
    ("disk_mb", "disk MB"),
]


def markdown_table(
    columns: list[tuple[str, str]], results: list[dict], lead: int, fmt: dict[str, str] | None = None
) -> str:
    """Rows under a header of `columns` (key, title); a row that failed shows its first `lead`
    cells, then its error. `fmt` gives a key's format (e.g. "," for thousands)."""
    fmt = fmt or {}
    lines = ["| " + " | ".join(title for _, title in columns) + " |", "|" + "---|" * len(columns)]
    for row in results:
        cells = [format(row[key], fmt[key]) if key in fmt else str(row.get(key, "")) for key, _ in columns]
        if "error" in row:
            cells = [*cells[:lead], str(row["error"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table(results: list[dict]) -> str:
    return markdown_table(COLUMNS, results, lead=2, fmt={"entries": ","})


def main(argv: list[str] | None = None, prog: str = "faq bench --scale") -> None:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="Entry counts, comma-separated.")
    parser.add_argument(
        "--local-max",
        type=int,
        default=100_000,
        help="Largest size local mode is run at (its load is ~1 ms an entry, its queries scan).",
    )
    parser.add_argument("--queries", type=int, default=200, help="Queries of each kind a size (Edge).")
    parser.add_argument(
        "--local-queries",
        type=int,
        default=30,
        help="Queries of each kind a size for local mode (a sparse query at 100k takes seconds).",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="Seconds one engine at one size may take."
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Where the JSON goes.")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        engine, size, queries = args.child
        sys.stdout.write(json.dumps(run_engine(engine, int(size), int(queries))) + "\n")
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes takes whole numbers separated by commas, not {args.sizes!r}")
    if not sizes or min(sizes) < 100:
        parser.error("--sizes: each size must be at least 100")
    results = []
    for size in sizes:
        for engine in ("edge", "local-mode"):
            if engine == "local-mode" and size > args.local_max:
                continue
            logger.info("%s at %s entries", engine, f"{size:,}")
            queries = args.queries if engine == "edge" else args.local_queries
            results.append(_in_child(engine, size, queries, args.timeout))
            logger.info("%s", results[-1])
    report = {
        "cpus": os.cpu_count(),
        "dimensions": DIM,
        "queries": {"edge": args.queries, "local-mode": args.local_queries},
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    sys.stdout.write(table(results) + f"\n\nJSON: {args.output}\n")


if __name__ == "__main__":
    main()
