"""Measure the lexical side on the answers-only views: val questions among the val answers
(`collection`) and among all answers (`full_index`), with and without token matches.

    .venv/bin/python -m experiments.hybrid_study --servable var/servable [--data FILE] [--sample 400]

Each view's answers are indexed by the index job into an in-process Qdrant (answer vectors and
lexical vectors of the answer text), and a sample of val questions is asked through the
service's search with each lexical weight. Prints precision@1 and MRR per view and weight.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from app.assembly import search_over
from app.domain.data_source import resolve_data_path
from app.domain.entry import FaqEntry
from app.domain.records import FaqDataset, load_faq
from app.domain.split import split_entries
from app.encoding.servable import Servable
from app.search.settings import SearchSettings
from training.evaluate import PARAPHRASE_DEPTH, index_in_memory
from training.metrics import scores_from_ranks

WEIGHTS = (0.0, 0.1, 0.2, 0.3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servable", type=Path, default=Path("var/servable"))
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--sample", type=int, default=400, help="val questions asked (every n-th)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    dataset = load_faq(resolve_data_path(args.data))
    split = split_entries(dataset.entries)
    model = Servable.load(args.servable, device="cpu")
    step = max(1, len(split.val) // args.sample)
    asked = split.val[::step][: args.sample]
    views = {"collection": split.val, "full_index": dataset.entries}
    results = {}
    for view, entries in views.items():
        # Answers only: an entry of the view is its answer text, nothing else.
        answers = FaqDataset(
            Path(view), [FaqEntry("", e.answer) for e in {e.answer: e for e in entries}.values()]
        )
        indexed = index_in_memory(model, answers, SearchSettings(mode="answer", lexical_weight=0.1))
        for weight in WEIGHTS:
            search = search_over(
                model, indexed.store, indexed.alias, replace(indexed.settings, lexical_weight=weight)
            )
            ranks = []
            for entry in asked:
                hits = search.search(entry.question, top_k=PARAPHRASE_DEPTH)
                ranks.append(
                    next((i for i, h in enumerate(hits, start=1) if h.answer == entry.answer), float("inf"))
                )
            scores = scores_from_ranks(np.array(ranks, dtype=np.float64))
            results[f"{view} lexical={weight}"] = {"precision_at_1": scores.precision_at_1, "mrr": scores.mrr}
        indexed.store.close()
    print(json.dumps(results, indent=2))  # noqa: T201 (the study's output)


if __name__ == "__main__":
    main()
