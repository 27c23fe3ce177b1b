"""Many FAQs in one running service: is one FAQ's /ask as fast among 1,000 FAQs as alone, and do
its askers notice another FAQ being created and filled? In one run on this machine:

    python -m benchmarks.tenancy_service --servable DIR --data faq.jsonl [--faqs 1000]
        [--entries 100] [--clients 8] [--seconds 30] [--no-record-questions]

1. Two embedded stores: one holding a single FAQ (the default one) of `--entries` entries (the
   first of the data file, indexed by the index job), and one holding `--faqs` such FAQs (the
   default one indexed, the others copies of its version under their own names: the same
   entries, so only their number differs).
2. For each, `faq serve` on it, and lone asks (one client, no embedding cache): the single FAQ,
   or a FAQ picked at random among all; p50 of the many against the one.
3. On the many-FAQ service: `--clients` closed-loop clients asking FAQs at random, quiet, then
   while a new FAQ is created and its entries added through the API (over and over until the
   phase is over); failed asks and the p99 against quiet.
The services log every ask (FAQ_RECORD_QUESTIONS, as by default, with the per-client budgets
lifted: the one client stands for many askers) and keep no embedding cache.
Prints the numbers and the targets (p50 within 1.3x, p99 within 1.5x, 0 failed); JSON
beside it.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx

from app.assembly import search_over
from app.config import StoreSettings
from app.domain.faq_names import alias_of
from app.domain.records import FaqDataset, load_faq
from app.encoding.servable import Servable
from app.store.base import version_name
from app.store.opening import open_store
from app.tenancy.registry import FaqRegistry
from app.writes.index_job import index_dataset
from benchmarks.serve_speed import Load, free_port, start

logger = logging.getLogger("bench.tenancy_service")
DEFAULT_OUTPUT = Path("var/bench/tenancy_service.json")
ADMIN_KEY = "tenancy-bench"
COLLECTION = "faq"
REOPEN_EVERY = 50


def faq_name(i: int) -> str:
    """The FAQs of a store: the default one (its routes also under /faqs/default), then t00001..."""
    return "default" if i == 0 else f"t{i:05d}"


def build_store(path: Path, servable: Servable, dataset: FaqDataset, faqs: int) -> float:
    """`faqs` FAQs of `dataset` in the embedded store at `path` (the default one indexed, the
    others copies of its version); seconds it took."""
    started = time.perf_counter()
    settings = StoreSettings.model_validate({"QDRANT_PATH": str(path)})
    store = open_store(settings)
    try:
        first = alias_of(faq_name(0), collection=COLLECTION, default_name="default")
        index_dataset(dataset, search_over(servable, store, first), progress=False)
        source = store.resolve_alias(first)
        assert source is not None
        layout = store.layout(source)
        points = list(store.points(source))
        for i in range(1, faqs):
            if i % REOPEN_EVERY == 0:
                # An open shard holds its memory until closed: reopened now and then, the store
                # holds only the shards written since (the service opens each when first asked).
                store.close()
                store = open_store(settings)
                logger.info("%d FAQs written", i)
            name = faq_name(i)
            alias = alias_of(name, collection=COLLECTION, default_name="default")
            copy = version_name(alias)
            # No HNSW graph below 20,000 points: a copy needs no seal (index build) of its own.
            # Stored as the index job would store it (pooled when small).
            store.create_collection(replace(layout, name=copy))
            store.write_points(copy, points)
            store.point_alias_to(alias, copy)
            FaqRegistry(store, COLLECTION, "default").create(name)
    finally:
        store.close()
    return time.perf_counter() - started


def lone_asks(url: str, faqs: int, questions: list[str], rounds: int, seed: int) -> list[float]:
    """Latencies (ms) of `rounds` asks one after another, each to a FAQ picked at random."""
    rng = random.Random(seed)
    latencies = []
    with httpx.Client(timeout=60) as http:
        for i in range(rounds):
            faq = faq_name(rng.randrange(faqs))
            started = time.perf_counter()
            response = http.post(f"{url}/faqs/{faq}/ask", json={"question": questions[i % len(questions)]})
            response.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def warm_up(url: str, faqs: int, questions: list[str]) -> None:
    with httpx.Client(timeout=60) as http:
        for i in range(max(faqs, 20)):
            http.post(
                f"{url}/faqs/{faq_name(i % faqs)}/ask", json={"question": questions[i % len(questions)]}
            )


def asking_clients(
    url: str, faqs: int, questions: list[str], clients: int, seconds: float, seed: int
) -> Load:
    """`clients` closed-loop clients, each ask to a FAQ picked at random, for `seconds`."""
    load = Load(clients, seconds)
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        rng = random.Random(seed + index)
        with httpx.Client(timeout=60) as http:
            while time.monotonic() < stop:
                faq = faq_name(rng.randrange(faqs))
                question = questions[rng.randrange(len(questions))]
                started = time.perf_counter()
                try:
                    response = http.post(f"{url}/faqs/{faq}/ask", json={"question": question})
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    if ok:
                        load.latencies_ms.append(elapsed)
                    else:
                        load.failed += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return load


def create_and_fill(url: str, dataset: FaqDataset, stop: threading.Event, events: list[dict]) -> None:
    """New FAQs, one after another until `stop`: created, then its entries added in one write."""
    headers = {"X-API-Key": ADMIN_KEY}
    entries = [e.to_record() for e in dataset.entries]
    with httpx.Client(timeout=600) as http:
        n = 0
        while not stop.is_set():
            name = f"new-{n}"
            started = time.perf_counter()
            created = http.post(f"{url}/admin/faqs", json={"name": name}, headers=headers)
            filled = http.post(f"{url}/faqs/{name}/faq/entries", json=entries, headers=headers)
            events.append(
                {
                    "faq": name,
                    "created": created.status_code,
                    "filled": filled.status_code,
                    "seconds": round(time.perf_counter() - started, 2),
                }
            )
            n += 1


def serve(store: Path, servable: Path, log: Path, record: bool):
    env = {
        "FAQ_SERVABLE": str(servable),
        "QDRANT_PATH": str(store),
        "QDRANT_URL": "",
        "DEVICE": "cpu",
        "ADMIN_API_KEY": ADMIN_KEY,
        "FAQ_RECORD_QUESTIONS": "true" if record else "false",
        # One benchmark client stands for the many askers of a real service: every ask is logged
        # on both sides (with the default budget of 60 a minute a client, the one-FAQ store would
        # log only that client's first asks of each minute and the many-FAQ one nearly all).
        "FAQ_ASK_LOG_PER_MINUTE": "1000000",
        "FAQ_RECORDS_PER_MINUTE": "1000000",
        "FAQ_EMBEDDING_CACHE_SIZE": "0",
    }
    port = free_port()
    return start(
        log.stem, [sys.executable, "-m", "cli.main", "serve", "--port", str(port)], env, port, log=log
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run(args: argparse.Namespace) -> dict:
    dataset = load_faq(args.data)
    dataset = FaqDataset(dataset.path, dataset.entries[: args.entries])
    questions = [e.question for e in dataset.entries]
    servable = Servable.load(args.servable, device="cpu")
    work = Path(tempfile.mkdtemp(prefix="faq-tenancy-"))
    logs = args.output.parent
    logs.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "faqs": args.faqs,
        "entries_per_faq": len(dataset.entries),
        "clients": args.clients,
        "record_questions": args.record_questions,
    }
    try:
        build = {"one": build_store(work / "one", servable, dataset, 1)}
        logger.info("writing %d FAQs", args.faqs)
        build["many"] = build_store(work / "many", servable, dataset, args.faqs)
        result["build_s"] = {k: round(v, 1) for k, v in build.items()}
        lone = {}
        for kind, faqs in (("one", 1), ("many", args.faqs)):
            service = serve(work / kind, args.servable, logs / f"tenancy-{kind}.log", args.record_questions)
            try:
                # warm-up: every FAQ asked once (its shard opened, its services built), as in a
                # service that has been running a while
                warm_started = time.perf_counter()
                warm_up(service.url, faqs, questions)
                result[f"{kind}_first_asks_s"] = round(time.perf_counter() - warm_started, 1)
                lone[kind] = lone_asks(service.url, faqs, questions, args.rounds, args.seed + 1)
                result[f"{kind}_rss_mb"] = round(service.rss_mb())
                result[f"{kind}_start_s"] = round(service.cold_start_s, 1)
                if kind == "many":
                    quiet = asking_clients(
                        service.url, faqs, questions, args.clients, args.seconds, args.seed
                    )
                    stop, events = threading.Event(), list[dict]()
                    writer = threading.Thread(
                        target=create_and_fill, args=(service.url, dataset, stop, events)
                    )
                    writer.start()
                    busy = asking_clients(
                        service.url, faqs, questions, args.clients, args.seconds, args.seed + 7
                    )
                    stop.set()
                    writer.join()
                    result["quiet"] = quiet.summary()
                    result["while_faqs_are_written"] = busy.summary()
                    result["faqs_written"] = events
                    result["p99_ratio"] = round(
                        percentile(busy.latencies_ms, 0.99) / percentile(quiet.latencies_ms, 0.99), 2
                    )
            finally:
                service.stop()
        result["lone_p50_ms"] = {k: round(percentile(v, 0.5), 2) for k, v in lone.items()}
        result["lone_p50_ratio"] = round(percentile(lone["many"], 0.5) / percentile(lone["one"], 0.5), 2)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.tenancy_service",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--servable", type=Path, default=Path("var/servable"))
    parser.add_argument(
        "--data", type=Path, required=True, help="The FAQ whose first entries every FAQ holds."
    )
    parser.add_argument("--faqs", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=100, help="Entries a FAQ.")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--seconds", type=float, default=30.0, help="Each phase of the clients (a p99 of thousands of asks)."
    )
    parser.add_argument("--rounds", type=int, default=300, help="Lone asks a store.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--record-questions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="The service's FAQ_RECORD_QUESTIONS (on, as by default: every FAQ asked writes its ask log).",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    for name in ("faqs", "entries", "clients", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    result = run(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    busy = result["while_faqs_are_written"]
    sys.stdout.write(
        json.dumps(result, indent=2)
        + f"\nJSON: {args.output}\n"
        + f"lone /ask p50: {result['lone_p50_ms']['one']} ms (one FAQ) -> {result['lone_p50_ms']['many']} ms "
        f"({args.faqs} FAQs): {result['lone_p50_ratio']}x (target 1.3x)\n"
        + f"{args.clients} clients, p99 {result['quiet']['p99_ms']} -> {busy['p99_ms']} ms while FAQs are "
        f"written: {result['p99_ratio']}x (target 1.5x), failed {busy['failed']} (target 0), "
        f"{len(result['faqs_written'])} FAQs written\n"
    )


if __name__ == "__main__":
    main()
