"""How far the same question lands from its stored twin on the question side, and whether the
conflict check (app.search.duplicates) reaches it.

    python -m experiments.conflict_reach --data faq.csv [--servable DIR] [--sample 600]

A search with question_context stores each question with its page's words, so the same
question sent with another page, or none, is not at cosine 1.0. For a sample of the FAQ's
entries, each asked again (without its file name; without source or file name; from another
source), this prints that cosine, the share under the similar threshold (what a threshold-only
check missed), and the share whose twin is not among the CONFLICT_DEPTH stored questions
nearest to it (what the conflict check misses): an exact search, as the store's.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from app.domain.entry import FaqEntry
from app.domain.records import load_faq
from app.search.answers import unit_rows
from app.search.duplicates import CONFLICT_DEPTH, DUPLICATE_SIMILARITY
from app.search.settings import question_text
from experiments.study_inputs import study_servable

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.conflict_reach", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--servable", type=Path, help="default: the base encoder as `faq train` serves it")
    parser.add_argument("--sample", type=int, default=600, help="entries asked again (default 600)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    entries = load_faq(args.data).entries
    servable, settings = study_servable(args.servable)
    context = settings.question_context
    stored = unit_rows(servable.encode_question_side([question_text(e, context) for e in entries]))
    picked = np.random.default_rng(0).choice(len(entries), size=min(args.sample, len(entries)), replace=False)
    sources = sorted({e.source for e in entries})
    other = {s: next((o for o in sources if o != s), "another page") for s in sources}
    variants: dict[str, Callable[[FaqEntry], FaqEntry]] = {
        "without its file name": lambda e: replace(e, filename=""),
        "without source or file name": lambda e: replace(e, source="", filename=""),
        "from another source": lambda e: replace(e, source=other[e.source], filename=""),
    }
    logger.info("%d entries, %d asked again; question_context %s", len(entries), len(picked), context)
    for name, variant in variants.items():
        asked = unit_rows(
            servable.encode_question_side([question_text(variant(entries[i]), context) for i in picked])
        )
        sims = asked @ stored.T
        own = sims[np.arange(len(picked)), picked]
        # stored questions closer than the twin (other pages' copies of the same question count)
        closer = (sims > own[:, None]).sum(axis=1)
        logger.info(
            "%-28s cosine to its twin: min %.3f, q05 %.3f, median %.3f; under %.2f: %.3f; "
            "twin beyond the %d nearest: %.3f",
            name,
            own.min(),
            np.quantile(own, 0.05),
            np.median(own),
            DUPLICATE_SIMILARITY,
            np.mean(own < DUPLICATE_SIMILARITY),
            CONFLICT_DEPTH,
            np.mean(closer >= CONFLICT_DEPTH),
        )


if __name__ == "__main__":
    main()
