"""The service against txtai, a real peer a user could pick instead, side by side in one run.

    faq bench --peer txtai --data FILE --servable DIR --paraphrases WORDINGS.jsonl \\
        [--peer-python PATH] [--seconds 10] [--rounds 2] [--output F]

Both answer over HTTP from all the FAQ's entries with all-MiniLM-L6-v2 (the model package's own
directory, offline): txtai 9.14 with its own embeddings index (the FAQ's questions, or
--peer-text) and its own API server (`CONFIG=... uvicorn txtai.api:app`, run by
--peer-python: an environment where txtai is installed, apart from the project's:
`python3.11 -m venv var/txtai && var/txtai/bin/pip install torch==2.13.0 "txtai[api]==9.14.0"`);
the service as it runs by default (`faq serve`: fused search, the lexical side, the decision
rule) with the question cache off. Measured, for each, in `--rounds` rounds whose order
alternates (service then txtai, txtai then service), pooled:

- a lone client: p50 and p99 of one question at a time;
- 16 closed-loop clients (`--clients`): answers a second, p99, failed requests;
- precision@1 on the user wordings: the entry ranked first is the wording's entry (for the
  service, its ranking whatever the decision: `score_threshold: -1`).

Prints the table of ratios and writes everything as JSON."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import httpx

from app.domain.data_source import resolve_data_path
from app.domain.entry import FaqEntry, unique_entries, wording_key
from app.domain.records import load_faq, read_records
from app.encoding.sentence_encoder import default_model_path
from app.encoding.servable import Servable
from benchmarks.index_speed import index_into
from benchmarks.serve_speed import (
    Ask,
    Load,
    Process,
    Questions,
    closed_loop,
    free_port,
    service_env,
    start,
)

logger = logging.getLogger("bench.peer")
DEFAULT_OUTPUT = Path("var/bench/peer_txtai.json")
PEER_TEXTS = ("question", "answer", "both")

BUILD_INDEX = textwrap.dedent(
    """
    import json, sys
    from txtai import Embeddings
    model, rows, target = sys.argv[1], sys.argv[2], sys.argv[3]
    embeddings = Embeddings(path=model, content=True)
    with open(rows, encoding="utf-8") as handle:
        embeddings.index((row["id"], row["text"], None) for row in map(json.loads, handle))
    embeddings.save(target)
    """
)


def _peer_rows(entries: list[FaqEntry], text: str, path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for entry in entries:
            document = {
                "question": entry.question,
                "answer": entry.answer,
                "both": f"{entry.question} {entry.answer}",
            }[text]
            out.write(json.dumps({"id": entry.id, "text": document}) + "\n")


def start_txtai(python: str, entries: list[FaqEntry], text: str, work: Path, log: Path) -> Process:
    """txtai's API over an index of `entries` it built itself (in its own environment)."""
    rows, index = work / "txtai-rows.jsonl", work / "txtai-index"
    _peer_rows(entries, text, rows)
    model = str(default_model_path())
    logger.info("txtai: indexing %d entries", len(entries))
    built = subprocess.run(
        [python, "-c", BUILD_INDEX, model, str(rows), str(index)], capture_output=True, text=True, check=False
    )
    if built.returncode != 0:
        raise RuntimeError(f"txtai could not build its index: {built.stderr.strip()[-500:]}")
    config = work / "txtai.yml"
    # YAML reads JSON; the `embeddings` section turns on its routes (/search), `path` loads the
    # index built above.
    config.write_text(json.dumps({"path": str(index), "writable": False, "embeddings": {"path": model}}))
    port = free_port()
    env = {"CONFIG": str(config), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    argv = [python, "-m", "uvicorn", "txtai.api:app", "--host", "127.0.0.1", "--port", str(port)]
    return start("txtai", argv, env, port, log=log, ready_path="/search?query=ready&limit=1")


def ask_service(url: str) -> Ask:
    def ask(client: httpx.Client, question: str) -> list[str]:
        response = client.post(f"{url}/ask", json={"question": question, "top_k": 5})
        response.raise_for_status()
        body = response.json()
        return [a["id"] for a in body["answers"] + body["suggestions"]]

    return ask


def ask_txtai(url: str) -> Ask:
    def ask(client: httpx.Client, question: str) -> list[str]:
        response = client.get(f"{url}/search", params={"query": question, "limit": 5})
        response.raise_for_status()
        return [str(hit["id"]) for hit in response.json()]

    return ask


def precision_at_1(url: str, wordings: list[dict], by_words: dict[str, str], ranked: Callable) -> dict:
    """The share of `wordings` whose first-ranked entry is theirs (by its question's words)."""
    right = asked = 0
    with httpx.Client(timeout=60) as http:
        for wording in wordings:
            expected = by_words.get(wording_key(str(wording.get("question", ""))))
            if expected is None:
                continue
            asked += 1
            found = ranked(http, url, str(wording["query"]))
            right += bool(found) and found[0] == expected
    return {"wordings": asked, "right": right, "precision_at_1": round(right / asked, 4) if asked else None}


def service_ranking(http: httpx.Client, url: str, question: str) -> list[str]:
    # -1: every answer clears the bar, so `answers` is the ranking whatever the decision
    body = http.post(f"{url}/ask", json={"question": question, "top_k": 5, "score_threshold": -1.0}).json()
    return [a["id"] for a in body["answers"]]


def txtai_ranking(http: httpx.Client, url: str, question: str) -> list[str]:
    return [
        str(hit["id"]) for hit in http.get(f"{url}/search", params={"query": question, "limit": 5}).json()
    ]


def run(args: argparse.Namespace) -> dict:
    dataset = load_faq(resolve_data_path(args.data))
    entries = unique_entries(dataset.entries)
    by_words = {wording_key(e.question): e.id for e in entries}
    wordings = [
        r for path in args.paraphrases for r in read_records(path, lambda record: record, what="wordings")
    ]
    questions = list(dict.fromkeys(str(w["query"]) for w in wordings)) or [e.question for e in entries]
    servable = Servable.load(args.servable, device="cpu")
    work = Path(tempfile.mkdtemp(prefix="faq-peer-"))
    logs = args.output.parent
    logs.mkdir(parents=True, exist_ok=True)
    try:
        logger.info("indexing %d entries for the service", len(entries))
        index_into(work / "store", servable, dataset, 64, "faq")
        port = free_port()
        env = service_env(args.servable, work / "store")
        apps = {
            "service": start(
                "service",
                [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
                env,
                port,
                log=logs / "peer-service.log",
            )
        }
        apps["txtai"] = start_txtai(args.peer_python, entries, args.peer_text, work, logs / "peer-txtai.log")
        asks = {"service": ask_service(apps["service"].url), "txtai": ask_txtai(apps["txtai"].url)}
        rankings = {"service": service_ranking, "txtai": txtai_ranking}
        result: dict = {
            "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
            "entries": len(entries),
            "peer_text": args.peer_text,
            "servable": str(args.servable),
            "rounds": args.rounds,
            "seconds_per_phase": args.seconds,
            "load": {},
            "precision": {},
        }
        try:
            for name in apps:  # warm-up: first calls pay for lazy initialisation
                closed_loop(asks[name], Questions(questions[-30:]), clients=2, seconds=3)
            loads = {name: {"lone": Load(1, 0.0), "busy": Load(args.clients, 0.0)} for name in apps}
            stages: dict[str, StageTotals] = {"lone": {}, "busy": {}}
            for round_ in range(args.rounds):
                # Alternated, so that a machine that slows down during the run slows both.
                for name in list(apps) if round_ % 2 == 0 else list(apps)[::-1]:
                    for phase, clients in (("lone", 1), ("busy", args.clients)):
                        before = _stage_totals(apps[name].url) if name == "service" else {}
                        load = closed_loop(asks[name], Questions(questions), clients, args.seconds)
                        _pool(loads[name][phase], load)
                        if name == "service":
                            _add_stages(stages[phase], before, _stage_totals(apps[name].url))
            result["service_stages_ms"] = {phase: stage_means({}, totals) for phase, totals in stages.items()}
            for name, app in apps.items():
                result["load"][name] = {phase: load.summary() for phase, load in loads[name].items()}
                result["precision"][name] = precision_at_1(app.url, wordings, by_words, rankings[name])
                result.setdefault("rss_mb", {})[name] = app.rss_mb()
                logger.info("%s: %s", name, result["load"][name])
        finally:
            for app in apps.values():
                app.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


StageTotals = dict[str, tuple[float, float]]


def stage_totals(metrics: str) -> StageTotals:
    """Seconds and count of each stage of /ask (faq_ask_stage_seconds) in a /metrics text."""
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for line in metrics.splitlines():
        for suffix, into in (("_sum", sums), ("_count", counts)):
            prefix = f'faq_ask_stage_seconds{suffix}{{stage="'
            if line.startswith(prefix):
                name = line[len(prefix) :].split('"', 1)[0]
                into[name] = float(line.rsplit(" ", 1)[1])
    return {name: (sums[name], counts.get(name, 0.0)) for name in sums}


def _stage_totals(url: str) -> StageTotals:
    return stage_totals(httpx.get(f"{url}/metrics", timeout=10).text)


def _pool(into: Load, load: Load) -> None:
    """`load`'s requests counted into `into` (the same phase of another round)."""
    into.latencies_ms += load.latencies_ms
    into.failed += load.failed
    into.seconds += load.seconds
    for status, count in load.statuses.items():
        into.statuses[status] = into.statuses.get(status, 0) + count


def _add_stages(into: StageTotals, before: StageTotals, after: StageTotals) -> None:
    for name, (seconds, count) in after.items():
        seconds_before, count_before = before.get(name, (0.0, 0.0))
        was = into.get(name, (0.0, 0.0))
        into[name] = (was[0] + seconds - seconds_before, was[1] + count - count_before)


def stage_means(before: StageTotals, after: StageTotals) -> dict[str, float]:
    """Mean milliseconds of each stage over the asks between two readings of /metrics."""
    means = {}
    for name, (seconds, count) in after.items():
        seconds_before, count_before = before.get(name, (0.0, 0.0))
        if count > count_before:
            means[name] = round((seconds - seconds_before) / (count - count_before) * 1000, 3)
    return means


def ratio(ours: float | None, theirs: float | None) -> float | None:
    return round(ours / theirs, 3) if ours is not None and theirs else None


def table(result: dict) -> str:
    ours, theirs = result["load"]["service"], result["load"]["txtai"]
    clients = ours["busy"]["clients"]
    timed = [
        ("lone question, p50 ms", ours["lone"]["p50_ms"], theirs["lone"]["p50_ms"]),
        ("lone question, p99 ms", ours["lone"]["p99_ms"], theirs["lone"]["p99_ms"]),
        (
            f"{clients} clients, answers/s",
            ours["busy"]["throughput_per_s"],
            theirs["busy"]["throughput_per_s"],
        ),
        (f"{clients} clients, p99 ms", ours["busy"]["p99_ms"], theirs["busy"]["p99_ms"]),
        ("memory MB", result["rss_mb"]["service"], result["rss_mb"]["txtai"]),
    ]
    lines = ["| | this service | txtai | ratio |", "|---|---|---|---|"]
    lines += [f"| {label} | {mine} | {peer} | {ratio(mine, peer)} |" for label, mine, peer in timed]
    failed = [load["lone"]["failed"] + load["busy"]["failed"] for load in (ours, theirs)]
    lines.append(f"| failed requests | {failed[0]} | {failed[1]} | |")
    mine_p = result["precision"]["service"]["precision_at_1"]
    peer_p = result["precision"]["txtai"]["precision_at_1"]
    lead = f"{mine_p - peer_p:+.3f}" if mine_p is not None and peer_p is not None else ""
    lines.append(f"| user wordings, precision@1 | {mine_p} | {peer_p} | {lead} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--peer", choices=["txtai"], default="txtai", help="The peer to run beside the service."
    )
    parser.add_argument("--data", type=Path, help="The FAQ (default: $FAQ_DATA or the download).")
    parser.add_argument("--servable", type=Path, default=Path("var/servable"))
    parser.add_argument(
        "--paraphrases",
        type=Path,
        action="append",
        default=[],
        help="User wordings (repeat for several files).",
    )
    parser.add_argument(
        "--peer-python",
        default=os.environ.get("FAQ_PEER_PYTHON", "var/txtai/bin/python"),
        help="The Python of an environment with txtai installed (or FAQ_PEER_PYTHON).",
    )
    parser.add_argument(
        "--peer-text", choices=PEER_TEXTS, default="question", help="What txtai indexes of an entry."
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="Each load phase, each app, each round.")
    parser.add_argument(
        "--rounds", type=int, default=2, help="Rounds of both apps' phases, in alternating order."
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if not Path(args.peer_python).exists() and shutil.which(args.peer_python) is None:
        parser.error(
            f"--peer-python {args.peer_python}: no such Python (an environment with txtai installed)"
        )
    if args.clients < 1 or args.seconds <= 0 or args.rounds < 1:
        parser.error("--clients, --seconds and --rounds must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    result = run(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    sys.stdout.write(
        table(result)
        + "\n\nstages of the service's /ask, mean ms (a stage of a batch counts once for the batch):\n"
        + "".join(f"  {phase}: {stages}\n" for phase, stages in result["service_stages_ms"].items())
        + f"JSON: {args.output}\n"
    )


if __name__ == "__main__":
    main()
