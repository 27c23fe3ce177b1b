"""Does a large live write stall the askers? `/ask` latency while an admin adds 2,000 entries in
one request and asks for a reindex a second later, against the same service left alone, in one
run on this machine.

    python -m benchmarks.write_stall --servable DIR --data faq.jsonl [--entries 2000] [--clients 4]
        [--niceness 0 10]

For each write niceness given (FAQ_WRITE_NICENESS: how much lower the writes' encoding runs
than the askers'; 0 is the same priority), in one run:
1. Indexes the FAQ into a fresh embedded store and starts `faq serve` on it.
2. Quiet: closed-loop `/ask` clients for `--seconds`, nothing else running.
3. Busy: the same clients while `POST /faq/entries` carries `--entries` new entries (one request)
   and, a second later, `POST /admin/reindex` with the FAQ file (a 409 while the write holds the
   lease is the expected answer: the point is that nobody waits on it); until the write is done
   and at least `--seconds` have passed.
Prints p50/p99 of both phases and their ratio (the issue's target: busy p99 within 1.5x of quiet),
failed asks, and how long the write and the reindex request took; JSON beside it.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from app.config import ServingSettings
from app.domain.records import FaqDataset, load_faq
from app.encoding.servable import Servable
from app.writes.index_job import DEFAULT_BATCH_SIZE
from benchmarks.index_speed import index_into
from benchmarks.serve_speed import Load, Questions, closed_loop, free_port, service_env, start

logger = logging.getLogger("bench.write_stall")
DEFAULT_OUTPUT = Path("var/bench/write_stall.json")
ADMIN_KEY = "write-stall-bench"


def new_entries(n: int) -> list[dict]:
    """Entries no FAQ has (each distinct), of real length."""
    return [
        {
            "question": f"how do i configure the widget number {i} for the regional office?",
            "answer": f"Widget {i} is configured from the settings page of the regional office. " * 6,
            "source": "bench",
        }
        for i in range(n)
    ]


def busy_phase(url: str, questions: Questions, args: argparse.Namespace, data: Path) -> tuple[Load, dict]:
    events: dict = {}

    def write() -> None:
        started = time.perf_counter()
        response = httpx.post(
            f"{url}/faq/entries",
            json=new_entries(args.entries),
            headers={"X-API-Key": ADMIN_KEY},
            timeout=900,
        )
        events["write_status"] = response.status_code
        events["write_s"] = round(time.perf_counter() - started, 2)

    def reindex() -> None:
        time.sleep(1.0)
        started = time.perf_counter()
        response = httpx.post(
            f"{url}/admin/reindex",
            content=data.read_bytes(),
            headers={"X-API-Key": ADMIN_KEY, "Content-Type": "application/x-ndjson"},
            timeout=900,
        )
        events["reindex_status"] = response.status_code
        events["reindex_request_s"] = round(time.perf_counter() - started, 2)

    writer, reindexer = threading.Thread(target=write), threading.Thread(target=reindex)
    writer.start()
    reindexer.start()
    started = time.monotonic()
    load = Load(args.clients, 0)
    # measure in slices until the write is done and the minimum time has passed
    while writer.is_alive() or time.monotonic() - started < args.seconds:
        part = closed_loop(url, questions, args.clients, 2.0)
        load.latencies_ms += part.latencies_ms
        load.failed += part.failed
        for status, count in part.statuses.items():
            load.statuses[status] = load.statuses.get(status, 0) + count
    load.seconds = time.monotonic() - started
    writer.join()
    reindexer.join()
    return load, events


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.write_stall",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--servable", type=Path, default=Path("var/servable"))
    parser.add_argument("--data", type=Path, required=True, help="The FAQ to index (JSONL).")
    parser.add_argument("--entries", type=int, default=2000, help="Entries in the one live write.")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0, help="At least this long per phase.")
    parser.add_argument(
        "--niceness",
        type=int,
        nargs="+",
        default=[0, ServingSettings().write_niceness],
        help="FAQ_WRITE_NICENESS values to compare (default: 0 and the service's default).",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    dataset = load_faq(args.data)
    runs = {}
    for niceness in args.niceness:
        logger.info("FAQ_WRITE_NICENESS=%d", niceness)
        runs[str(niceness)] = one_service(args, dataset, niceness)
    result = {
        "entries_in_faq": len(dataset.entries),
        "entries_written": args.entries,
        "clients": args.clients,
        "by_write_niceness": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    sys.stdout.write(json.dumps(result, indent=2) + f"\nJSON: {args.output}\n")
    for niceness, run in runs.items():
        sys.stdout.write(
            f"niceness {niceness}: /ask p99 {run['quiet']['p99_ms']} -> {run['busy']['p99_ms']} ms "
            f"({run['p99_ratio']}x), p50 {run['p50_ratio']}x, write {run.get('write_s')} s, "
            f"failed {run['busy']['failed']}\n"
        )


def one_service(args: argparse.Namespace, dataset: FaqDataset, niceness: int) -> dict:
    """Quiet and busy phases against one fresh service writing at `niceness`."""
    work = Path(tempfile.mkdtemp(prefix="faq-stall-"))
    try:
        servable = Servable.load(args.servable, device="cpu")
        index_into(work / "qdrant", servable, dataset, DEFAULT_BATCH_SIZE, "faq")
        questions = Questions([entry.question for entry in dataset.entries][::-1])
        port = free_port()
        env = service_env(
            args.servable, work / "qdrant", ADMIN_API_KEY=ADMIN_KEY, FAQ_WRITE_NICENESS=str(niceness)
        )
        log = args.output.with_name(f"{args.output.stem}-niceness{niceness}.log")
        log.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "cli.main", "serve", "--port", str(port)]
        app = start("service", argv, env, port, log=log)
        try:
            closed_loop(app.url, questions, 2, 3)  # warm-up
            logger.info("quiet phase")
            quiet = closed_loop(app.url, questions, args.clients, args.seconds)
            logger.info("busy phase: %d entries written, a reindex asked for", args.entries)
            busy, events = busy_phase(app.url, questions, args, args.data)
        finally:
            app.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "quiet": quiet.summary(),
        "busy": busy.summary(),
        "p99_ratio": round(busy.percentile(0.99) / quiet.percentile(0.99), 2),
        "p50_ratio": round(busy.percentile(0.5) / quiet.percentile(0.5), 2),
        **events,
    }


if __name__ == "__main__":
    main()
