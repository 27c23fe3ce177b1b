"""The service against the simplest implementation, measured in one run on this machine.

    make bench            (or: faq bench --data FILE [--entries N] [--seconds S])

1. Indexes the FAQ with the index job into a fresh embedded store, and encodes the same texts
   alone: index throughput vs encoding (entries/s).
2. Starts `faq serve` on that store and the benchmark's minimal app (benchmarks/minimal_app.py:
   one encoder, answers only, each request encoded alone) on a copy of it; cold start (process
   start to /ready 200) and resident memory after warm-up.
3. Closed-loop load over real HTTP at each concurrency (1, 4, 16 by default) for a fixed time,
   each app in turn: p50/p95/p99 latency, throughput, failed requests. Questions are val-split
   questions and the paraphrase file's, shuffled, never repeated within a run of one app.
4. Prints the table of ratios and writes everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.domain.data_source import resolve_data_path
from app.domain.entry import unique_entries
from app.domain.records import FaqDataset, load_faq, read_records
from app.encoding.servable import Servable
from app.writes.index_job import DEFAULT_BATCH_SIZE
from benchmarks.index_speed import encode_only, index_into

logger = logging.getLogger("bench")
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = Path("var/bench/serve_speed.json")


@dataclass
class Load:
    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    failed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def summary(self) -> dict:
        return {
            "clients": self.clients,
            "requests": len(self.latencies_ms),
            "failed": self.failed,
            "statuses": self.statuses,
            "throughput_per_s": round(len(self.latencies_ms) / self.seconds, 1),
            "p50_ms": round(self.percentile(0.50), 1),
            "p95_ms": round(self.percentile(0.95), 1),
            "p99_ms": round(self.percentile(0.99), 1),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 1) if self.latencies_ms else None,
        }


class Questions:
    """A shuffled pool handed out without repeats (wrapping only when exhausted)."""

    def __init__(self, texts: list[str]):
        self.texts = texts
        self.next = 0
        self.lock = threading.Lock()
        self.wrapped = False

    def take(self) -> str:
        with self.lock:
            if self.next >= len(self.texts):
                self.next, self.wrapped = 0, True
            text = self.texts[self.next]
            self.next += 1
            return text


# Asks one question over a client; an error status raises httpx.HTTPStatusError.
Ask = Callable[[httpx.Client, str], object]


def post_ask(url: str) -> Ask:
    """The service's POST /ask at `url`."""

    def ask(http: httpx.Client, question: str) -> object:
        return http.post(f"{url}/ask", json={"question": question, "top_k": 5}).raise_for_status()

    return ask


def closed_loop(target: str | Ask, questions: Questions, clients: int, seconds: float) -> Load:
    """`clients` threads asking one question after another for `seconds`: the service at the URL
    `target`, or any app through the `Ask` given."""
    ask = post_ask(target) if isinstance(target, str) else target
    load = Load(clients, seconds)
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(timeout=60) as http:
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    ask(http, questions.take())
                    status = "200"
                except httpx.HTTPStatusError as exc:
                    status = str(exc.response.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    load.statuses[status] = load.statuses.get(status, 0) + 1
                    if status == "200":
                        load.latencies_ms.append(elapsed)
                    else:
                        load.failed += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return load


def service_env(servable: Path, store: Path | None = None, **settings: str) -> dict[str, str]:
    """The environment of a benchmarked `faq serve`: `servable` on the CPU, the embedded store at
    `store`, nothing recorded and no question cached (a repeated question would be free), and
    `settings` over those."""
    env = {
        "FAQ_SERVABLE": str(servable),
        "QDRANT_URL": "",
        "DEVICE": "cpu",
        "FAQ_RECORD_QUESTIONS": "false",
        "FAQ_EMBEDDING_CACHE_SIZE": "0",
    }
    if store is not None:
        env["QDRANT_PATH"] = str(store)
    return env | settings


@dataclass
class Process:
    name: str
    url: str
    popen: subprocess.Popen
    cold_start_s: float

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        return float("nan")

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()


def start(
    name: str,
    argv: list[str],
    env: dict[str, str],
    port: int,
    log: Path | None = None,
    ready_path: str = "/ready",
) -> Process:
    """Start a service and wait until `ready_path` answers 200; its output goes to `log` (else
    nowhere)."""
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    output = open(log, "wb") if log is not None else None  # noqa: SIM115 - handed to the child
    where = output if output is not None else subprocess.DEVNULL
    popen = subprocess.Popen(argv, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=where, stderr=where)
    if output is not None:
        output.close()  # the child holds its own copy
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited with {popen.returncode}")
        try:
            if httpx.get(f"{url}{ready_path}", timeout=2).status_code == 200:
                return Process(name, url, popen, round(time.perf_counter() - started, 2))
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    popen.kill()
    raise RuntimeError(f"{name} was not ready within 300 s")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_questions(dataset: FaqDataset, paraphrases: Path | None, seed: int) -> list[str]:
    from app.domain.split import split_entries  # the val split: questions the model never trained on

    texts = [entry.question for entry in split_entries(dataset.entries).val]
    if paraphrases is not None and paraphrases.is_file():
        texts += read_records(paraphrases, lambda r: str(r["query"]), what="wordings")
    texts = list(dict.fromkeys(texts))
    random.Random(seed).shuffle(texts)
    return texts


def index_throughput(servable: Servable, dataset: FaqDataset, store_path: Path) -> dict:
    entries = unique_entries(dataset.entries)
    servable.encode([e.answer for e in entries[:64]])  # warm-up
    encode_seconds = encode_only(servable, entries, DEFAULT_BATCH_SIZE)
    index_seconds = index_into(store_path, servable, dataset, DEFAULT_BATCH_SIZE, "faq")
    return {
        "entries": len(entries),
        "encode_only_entries_per_s": round(len(entries) / encode_seconds, 1),
        "index_job_entries_per_s": round(len(entries) / index_seconds, 1),
        "ratio": round(encode_seconds / index_seconds, 3),
    }


def top_source(dataset: FaqDataset) -> str:
    counts: dict[str, int] = {}
    for entry in dataset.entries:
        counts[entry.source] = counts.get(entry.source, 0) + 1
    return max(counts, key=lambda source: counts[source])


def filter_cost(url: str, questions: Questions, source: str, rounds: int = 60) -> dict:
    """Lone asks with and without a `source` filter, alternating (a noisy machine hurts both
    alike): the filtered one's p50 over the unfiltered one's."""
    timings: dict[str, list[float]] = {"unfiltered": [], "filtered": []}
    with httpx.Client(timeout=60) as http:
        for _ in range(rounds):
            for kind in timings:
                body = {"question": questions.take(), "top_k": 5}
                if kind == "filtered":
                    body["source"] = source
                started = time.perf_counter()
                http.post(f"{url}/ask", json=body).raise_for_status()
                timings[kind].append((time.perf_counter() - started) * 1000)
    p50 = {kind: round(statistics.median(values), 2) for kind, values in timings.items()}
    return {"source": source, "p50_ms": p50, "ratio": ratio(p50["filtered"], p50["unfiltered"])}


def ratio(ours: float, theirs: float) -> float | None:
    return round(ours / theirs, 3) if theirs else None


def run(args: argparse.Namespace) -> dict:
    dataset = load_faq(resolve_data_path(args.data))
    if args.entries:
        dataset = FaqDataset(dataset.path, dataset.entries[: args.entries])
    servable = Servable.load(args.servable, device="cpu")
    questions = bench_questions(dataset, args.paraphrases, args.seed)
    work = Path(tempfile.mkdtemp(prefix="faq-bench-"))
    try:
        logger.info("indexing %d entries, and encoding them alone", len(dataset.entries))
        index = index_throughput(servable, dataset, work / "service")
        shutil.copytree(work / "service", work / "minimal")
        env = service_env(args.servable)
        apps = {}
        for name, module, store in (
            ("service", "cli.main", "service"),
            ("minimal", "benchmarks.minimal_app", "minimal"),
        ):
            port = free_port()
            argv = [
                sys.executable,
                "-m",
                module,
                *(["serve"] if module == "cli.main" else []),
                "--port",
                str(port),
            ]
            logger.info("starting the %s", name)
            apps[name] = start(name, argv, {**env, "QDRANT_PATH": str(work / store)}, port)
        try:
            # warm-up with questions that the measured runs never ask (no cache hits from it)
            warm_up, measured = questions[-50:], questions[:-50]
            pools = {name: Questions(list(measured)) for name in apps}
            for app in apps.values():
                closed_loop(app.url, Questions(warm_up), clients=2, seconds=3)
            loads: dict[str, dict[int, dict]] = {name: {} for name in apps}
            for clients in args.clients:
                for name, app in apps.items():
                    logger.info("%s: %d clients for %.0f s", name, clients, args.seconds)
                    loads[name][clients] = closed_loop(app.url, pools[name], clients, args.seconds).summary()
            memory = {name: app.rss_mb() for name, app in apps.items()}
            filtered = filter_cost(apps["service"].url, pools["service"], top_source(dataset))
            metrics = httpx.get(f"{apps['service'].url}/metrics", timeout=10).text
        finally:
            for app in apps.values():
                app.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cache_hits = next(
        (
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("faq_embedding_cache_hits ")
        ),
        None,
    )
    return {
        "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
        "entries": len(dataset.entries),
        "questions": len(questions),
        "questions_repeated": any(pool.wrapped for pool in pools.values()),
        "service_cache_hits": cache_hits,
        "seconds_per_level": args.seconds,
        "index": index,
        "cold_start_s": {name: app.cold_start_s for name, app in apps.items()},
        "rss_mb_after_load": memory,
        "load": loads,
        "source_filter": filtered,
    }


def table(result: dict) -> str:
    service, minimal = result["load"]["service"], result["load"]["minimal"]
    rows: list[tuple[str, ...]] = [("", "this service", "minimal app", "ratio")]
    for clients in service:
        ours, theirs = service[clients], minimal[clients]
        for key, label in (("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("throughput_per_s", "answers/s")):
            rows.append(
                (
                    f"{clients} clients, {label}",
                    str(ours[key]),
                    str(theirs[key]),
                    str(ratio(ours[key], theirs[key])),
                )
            )
        rows.append((f"{clients} clients, failed", str(ours["failed"]), str(theirs["failed"]), ""))
    rows.append(
        (
            "cold start s",
            *map(str, result["cold_start_s"].values()),
            str(ratio(*result["cold_start_s"].values())),
        )
    )
    rows.append(
        (
            "memory MB",
            *map(str, result["rss_mb_after_load"].values()),
            str(ratio(*result["rss_mb_after_load"].values())),
        )
    )
    filtered = result["source_filter"]
    rows.append(
        (
            f"lone /ask p50 ms with source={filtered['source']} (vs without)",
            str(filtered["p50_ms"]["filtered"]),
            str(filtered["p50_ms"]["unfiltered"]),
            str(filtered["ratio"]),
        )
    )
    index = result["index"]
    rows.append(
        (
            "index entries/s (vs encoding alone)",
            str(index["index_job_entries_per_s"]),
            str(index["encode_only_entries_per_s"]),
            str(index["ratio"]),
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows
    )


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="FAQ JSONL file (default: $FAQ_DATA or the download)")
    parser.add_argument("--servable", type=Path, default=Path("var/servable"))
    parser.add_argument("--paraphrases", type=Path, default=Path("../shared/data/paraphrases-dev.jsonl"))
    parser.add_argument("--entries", type=int, default=0, help="Only the first N entries (0: all).")
    parser.add_argument("--seconds", type=float, default=15.0, help="Load time per app and concurrency.")
    parser.add_argument("--clients", type=lambda v: [int(c) for c in v.split(",")], default=[1, 4, 16])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request would load the client
    result = run(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(table(result))  # noqa: T201 (the benchmark's output)
    print(f"\n{result['machine']['cores']} cores; written to {args.output}")  # noqa: T201
    if result["questions_repeated"]:
        print(  # noqa: T201
            "note: the question pool ran out and questions were asked again; the service runs "
            "with its embedding cache off here, so none was answered from a cache"
        )


if __name__ == "__main__":
    main()
