"""The lexical side on Qdrant Edge: what users get (confident right / wrong, right entry shown,
unanswerable questions answered) and what an ask costs, by tokenizer and weight.

    python -m experiments.lexical_study --data faq.csv [--servable DIR] \\
        --paraphrases wordings.jsonl [more.jsonl] --out-of-domain unanswerable.jsonl

The FAQ's dense vectors are encoded once; for each tokenizer ("wordpiece": the encoder's own;
"bm25": Qdrant's BM25) and weight, a fresh Edge store gets them with that lexical side, the
decision rule is fitted to the FAQ as the index job fits it, and every wording and unanswerable
question is asked through the service's own `ask`, one at a time (its median time beside the
no-lexical run's). Without --servable, the base encoder with the settings `faq train` gives it.
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import replace

import numpy as np

from app.assembly import scratch_search, search_over
from app.domain.ask_sets import load_out_of_domain, load_paraphrases
from app.domain.entry import unique_entries
from app.domain.records import load_faq
from app.search.settings import LEXICAL_VECTOR, lexical_text
from app.store.opening import scratch_store
from experiments.study_inputs import study_parser, study_servable
from training.evaluate import outcome_scores

logger = logging.getLogger(__name__)

CONFIGS = [("none", 0.0)] + [(tokens, w) for tokens in ("wordpiece", "bm25") for w in (0.1, 0.2, 0.3)]
CHUNK = 1000


def main(argv: list[str] | None = None) -> None:
    parser = study_parser("python -m experiments.lexical_study", __doc__ or "")
    parser.add_argument(
        "--runtime",
        default="auto",
        help="The servable's runtime (auto, onnx-int8, onnx, torch): compare runs.",
    )
    parser.add_argument(
        "--weights", default="0,0.1,0.2,0.3", help="Lexical weights to measure (0: no lexical side)."
    )
    args = parser.parse_args(argv)
    weights = [float(w) for w in args.weights.split(",")]
    configs = [(t, w) for t, w in CONFIGS if w in weights]
    logging.basicConfig(level=logging.WARNING)
    entries = unique_entries(load_faq(args.data).entries)
    servable, base = study_servable(args.servable, args.runtime)
    wordings = [load_paraphrases(path) for path in args.paraphrases]
    unanswerable = load_out_of_domain(args.out_of_domain)
    dense_search = scratch_search(servable, replace(base, lexical_weight=0.0), "dense")
    dense = {k: v for k, v in dense_search.vectors_for(entries).items() if isinstance(v, np.ndarray)}
    print(  # noqa: T201 (the study's output)
        f"{'tokens':>9} {'weight':>6} "
        + " ".join(f"{'R' + str(i):>6} {'W' + str(i):>6} {'S' + str(i):>6}" for i in range(len(wordings)))
        + f" {'nearA':>6} {'farA':>6} {'ask ms':>7} {'vs none':>7}"
    )
    searches = {}
    for tokens, weight in configs:
        settings = replace(base, lexical_weight=weight, lexical_tokens=tokens if weight else "wordpiece")
        store = scratch_store()
        search = search_over(servable, store, "study", settings)  # every ask encodes
        collection = store.create_version("study", search.vector_sizes(), settings.sparse_vectors)
        for start in range(0, len(entries), CHUNK):
            part = entries[start : start + CHUNK]
            vectors: dict = {name: rows[start : start + CHUNK] for name, rows in dense.items()}
            if weight:
                vectors[LEXICAL_VECTOR] = search.lexical.documents([lexical_text(e) for e in part])
            store.upsert(collection, part, vectors)
        store.seal(collection)
        store.set_metadata(collection, {"decision": search.fit_rule(entries, dense).to_record()})
        store.point_alias_to("study", collection)
        searches[(tokens, weight)] = search
    # What an ask costs: lone asks, the configurations interleaved question by question (a noisy
    # machine hurts each alike).
    timings: dict[tuple[str, float], list[float]] = {config: [] for config in searches}
    for item in [p for items in wordings for p in items]:
        for config, search in searches.items():
            started = time.perf_counter()
            search.ask(item.query)
            timings[config].append((time.perf_counter() - started) * 1000)
    plain = statistics.median(timings.get(("none", 0.0)) or next(iter(timings.values())))
    for config, search in searches.items():
        cells = []
        near_far: dict[str, float] = {}
        for items in wordings:
            scores = outcome_scores(search, items, unanswerable)
            cells += [
                f"{scores['confident_right']:6.3f}",
                f"{scores['confident_wrong']:6.3f}",
                f"{scores['right_shown']:6.3f}",
            ]
            near_far = {k: scores.get(f"{k}_answered", float("nan")) for k in ("near", "far")}
        cost = statistics.median(timings[config])
        print(  # noqa: T201
            f"{config[0]:>9} {config[1]:6.2f} "
            + " ".join(cells)
            + f" {near_far['near']:6.3f} {near_far['far']:6.3f} {cost:7.2f} {cost / plain:6.3f}"
        )
        search.store.close()
    dense_search.store.close()


if __name__ == "__main__":
    main()
