"""What alternate wordings cost a question: `FaqSearch.ask_many` over the same FAQ indexed
without a wordings side (as before wordings existed) and with one holding the wordings (a
max-sim multivector on the question side), in one process, interleaved, on the embedded store
(Qdrant Edge).

    python -m benchmarks.wordings_cost --data faq.csv --wordings paraphrases.jsonl [--rounds 20]

`--wordings`: {query, question} records; each query becomes a wording of the entry whose
question it names (as the review queue would add them). The questions asked are the
wordings' own queries, in batches of 16 (the service's micro-batches).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.wordings_cost", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=Path, required=True, help="the FAQ file (any format)")
    parser.add_argument("--wordings", type=Path, required=True, help="{query, question} records")
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds of each (interleaved)")
    parser.add_argument("--output", type=Path, help="also write the report here (JSON)")
    args = parser.parse_args(argv)
    from app.assembly import scratch_search
    from app.domain.ask_sets import load_paraphrases
    from app.domain.records import FaqDataset, load_faq
    from app.encoding.servable import Servable
    from app.search.faq_search import Question
    from app.search.settings import WORDINGS_VECTOR, SearchSettings
    from app.writes.index_job import index_dataset

    entries = load_faq(args.data).entries
    pairs = load_paraphrases(args.wordings)
    extra: dict[str, list[str]] = {}
    for item in pairs:
        extra.setdefault(item.question, []).append(item.query)
    worded = [e.with_alternates(extra.get(e.question, [])) for e in entries]
    servable = Servable.from_base_model(device="cpu")
    settings = SearchSettings(mode="fused", fusion="sum", lexical_weight=0.1)
    # Without: a version with no wordings side at all (as an index from before wordings).
    plain = scratch_search(servable, settings, "faq")
    store = plain.store
    version = store.create_version("faq", plain.vector_sizes(), settings.sparse_vectors)
    vectors = {k: v for k, v in plain.vectors_for(entries).items() if k != WORDINGS_VECTOR}
    store.upsert(version, entries, vectors)
    store.seal(version)
    store.set_metadata(version, {"decision": plain.fit_rule(entries).to_record()})  # like for like
    store.point_alias_to("faq", version)
    with_wordings = scratch_search(servable, settings, "faq", cache_size=10_000)
    plain.cache = with_wordings.cache  # the same embeddings: only the store's work differs
    index_dataset(FaqDataset(args.data, worded), with_wordings, progress=False)
    questions = [Question(item.query) for item in pairs]
    batches = [questions[i : i + 16] for i in range(0, len(questions), 16)]
    for search in (plain, with_wordings):  # warm: embeddings cached, shards open
        for batch in batches:
            search.ask_many(batch)
    timings: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(args.rounds):
        for name, search in (("without", plain), ("with", with_wordings)):
            started = time.perf_counter()
            for batch in batches:
                search.ask_many(batch)
            timings[name].append((time.perf_counter() - started) / len(questions) * 1000)
    without, with_ = statistics.median(timings["without"]), statistics.median(timings["with"])
    report = {
        "entries": len(entries),
        "wordings": sum(len(e.alternates) for e in worded),
        "questions": len(questions),
        "ms_per_question_without_wordings": round(without, 3),
        "ms_per_question_with_wordings": round(with_, 3),
        "ratio": round(with_ / without, 3),
        "note": "embeddings cached for both: the difference is the store's and the fusion's work",
    }
    print(json.dumps(report, indent=2))  # noqa: T201 (the benchmark's output)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
