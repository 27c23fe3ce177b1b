"""Measure how to match user questions: answers only, the entries' questions, and fusions.

    .venv/bin/python -m experiments.fusion_study --servable var/servable \\
        --paraphrases ../shared/data/paraphrases-dev.jsonl [--data FILE]

Indexes every entry (answer and question vectors) in an in-process Qdrant and asks each
paraphrase through the service's search with each setting; prints precision@1, MRR and
recall@5 per setting. The numbers behind the default in experiments/README.md.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

from app.assembly import search_over
from app.domain.ask_sets import load_paraphrases
from app.domain.data_source import resolve_data_path
from app.domain.records import load_faq
from app.encoding.servable import Servable
from app.search.settings import SearchSettings
from training.evaluate import index_in_memory, paraphrase_scores

SETTINGS = {
    "answer only": SearchSettings(mode="answer"),
    "question only": SearchSettings(mode="fused", fusion="sum", question_weight=1.0),
    "max": SearchSettings(mode="fused", fusion="max"),
    "rrf": SearchSettings(mode="fused", fusion="rrf"),
    **{f"sum q={w}": SearchSettings(mode="fused", fusion="sum", question_weight=w) for w in (0.3, 0.5, 0.7)},
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servable", type=Path, default=Path("var/servable"))
    parser.add_argument("--paraphrases", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--base", action="store_true", help="study the base encoder instead")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    dataset = load_faq(resolve_data_path(args.data))
    model = (
        Servable.from_base_model(device="cpu") if args.base else Servable.load(args.servable, device="cpu")
    )
    paraphrases = load_paraphrases(args.paraphrases)
    results = {}
    for context in (False, True):
        # One index a setting of the page words, built by the index job; every fusion is
        # asked against it (the fused vectors are a superset of the answers-only ones).
        indexed = index_in_memory(model, dataset, SearchSettings(mode="fused", question_context=context))
        for name, settings in SETTINGS.items():
            if context and settings.mode == "answer":
                continue  # the page words only change question vectors
            label = f"{name} +page" if context else name
            search = search_over(
                model, indexed.store, indexed.alias, replace(settings, question_context=context)
            )
            results[label] = paraphrase_scores(search, paraphrases).as_dict()
        indexed.store.close()
    print(json.dumps(results, indent=2))  # noqa: T201 (the study's output)


if __name__ == "__main__":
    main()
