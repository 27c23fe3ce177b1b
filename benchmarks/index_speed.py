"""Index job speed vs encoding the same answers alone, measured in one run.

    .venv/bin/python -m benchmarks.index_speed --data ../shared/data/cloud_faq_dataset.jsonl

Reports entries/s of both and their ratio (the index job should reach >= 0.8 of plain
encoding of the same texts: writing to Qdrant must not be the bottleneck). Runs each twice, alternating, and
keeps the best of each, since the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from app.assembly import scratch_search, search_over
from app.config import StoreSettings
from app.domain.data_source import resolve_data_path
from app.domain.entry import FaqEntry, unique_entries
from app.domain.records import FaqDataset, load_faq
from app.encoding.servable import Servable
from app.store.opening import open_store
from app.writes.index_job import DEFAULT_BATCH_SIZE, index_dataset


def encode_only(servable: Servable, entries: list[FaqEntry], batch_size: int) -> float:
    """Encode exactly what the index job encodes (the search's own `vectors_for`), writing nothing."""
    search = scratch_search(servable, alias="bench")
    started = time.perf_counter()
    for start in range(0, len(entries), batch_size):
        search.vectors_for(entries[start : start + batch_size], batch_size)
    return time.perf_counter() - started


def index_into(path: Path, servable: Servable, dataset: FaqDataset, batch_size: int, alias: str) -> float:
    """Seconds the index job takes to index `dataset` into the embedded store at `path`."""
    store = open_store(StoreSettings.model_validate({"QDRANT_PATH": str(path)}))
    try:
        started = time.perf_counter()
        index_dataset(dataset, search_over(servable, store, alias), batch_size=batch_size, progress=False)
        return time.perf_counter() - started
    finally:
        store.close()


def index_once(servable: Servable, dataset: FaqDataset, batch_size: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        return index_into(Path(tmp) / "qdrant", servable, dataset, batch_size, "bench")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="FAQ JSONL file (default: $FAQ_DATA or the download)")
    parser.add_argument("--servable", type=Path, default=Path("var/servable"))
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    dataset = load_faq(resolve_data_path(args.data))
    entries = unique_entries(dataset.entries)
    servable = Servable.load(args.servable, device="cpu")
    servable.encode([e.answer for e in entries[:64]])  # warm-up: first calls pay for lazy initialisation
    encode_times, index_times = [], []
    for _ in range(args.rounds):
        encode_times.append(encode_only(servable, entries, args.batch_size))
        index_times.append(index_once(servable, dataset, args.batch_size))
    encode_rate = len(entries) / min(encode_times)
    index_rate = len(entries) / min(index_times)
    result = {
        "entries": len(entries),
        "vectors_per_entry": list(scratch_search(servable, alias="bench").settings.vectors),
        "encode_only_entries_per_s": round(encode_rate, 1),
        "index_job_entries_per_s": round(index_rate, 1),
        "ratio_index_to_encode": round(index_rate / encode_rate, 3),
        "encode_seconds": [round(t, 1) for t in encode_times],
        "index_seconds": [round(t, 1) for t in index_times],
    }
    print(json.dumps(result, indent=2))  # noqa: T201 (the benchmark's output)


if __name__ == "__main__":
    main()
