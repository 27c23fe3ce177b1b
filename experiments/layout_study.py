"""The decision rule across a FAQ's layouts, and what one round of askers teaches it, in memory.

    python -m experiments.layout_study --data faq.csv [--servable DIR] \\
        --paraphrases wordings.jsonl [other.jsonl] --out-of-domain unanswerable.jsonl

The FAQ is written out as the layouts teams keep it in (CSV with its categories, CSV without,
one HTML FAQPage, Markdown with a heading a category) and each is fitted as `faq index` fits it;
the wordings and unanswerable questions only measure. For each layout: confident right and
wrong per wording set, near-domain and far-off answered, and the hindsight frontier (as
`benchmarks.http_outcomes` prints it). Then askers: each wording set is asked as users of the
page would (a right answer is marked helpful, a wrong one not helpful, the right suggestion is
picked when shown, from a client each; a question whose right entry is not shown is a miss
nobody labelled), the rule learns from it (app.search.asker_rule), and the other set is
measured (with one set: its halves). The numbers of the README's "Your own FAQ" come from the
service over HTTP; this is the same rule, without the service, to see it move.
"""

from __future__ import annotations

import csv
import html
import json
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from app.assembly import scratch_search
from app.domain.ask_sets import load_out_of_domain, load_paraphrases
from app.domain.entry import FaqEntry, unique_entries
from app.domain.records import load_faq
from app.search.asker_rule import Label, fit_from_labels
from app.search.decision import ANSWERED, CLARIFY, DecisionRule
from app.search.faq_search import SUGGESTIONS, FaqSearch, Question
from experiments.study_inputs import study_parser, study_servable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Asked:
    best: float
    margin: float
    top_right: bool
    shown: tuple[bool, ...]  # whether each of the first SUGGESTIONS entries is the right one
    scores: tuple[float, ...]


def layouts(entries: Sequence[FaqEntry], folder: Path) -> dict[str, Path]:
    """The FAQ written out as teams keep it."""
    paths = {name: folder / name for name in ("categories.csv", "no-categories.csv", "page.html", "faq.md")}
    with paths["categories.csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["category", "question", "answer"])
        writer.writerows([e.source, e.question, e.answer] for e in entries)
    with paths["no-categories.csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "answer"])
        writer.writerows([e.question, e.answer] for e in entries)
    page = {
        "@context": "https://schema.org",
        "@type": "FAQPage",
        "mainEntity": [
            {"@type": "Question", "name": e.question, "acceptedAnswer": {"@type": "Answer", "text": e.answer}}
            for e in entries
        ],
    }
    script = json.dumps(page).replace("</", "<\\/")
    paths["page.html"].write_text(
        f'<html><head><title>FAQ</title><script type="application/ld+json">{script}</script></head></html>',
        encoding="utf-8",
    )
    sections: dict[str, list[FaqEntry]] = {}
    for entry in entries:
        sections.setdefault(entry.source or "FAQ", []).append(entry)
    markdown = ["# FAQ", ""]
    for source, members in sections.items():
        markdown += [f"## {html.escape(source)}", ""]
        for entry in members:
            markdown += [f"### {entry.question}", "", entry.answer, ""]
    paths["faq.md"].write_text("\n".join(markdown), encoding="utf-8")
    return paths


def ask_all(search: FaqSearch, queries: Sequence[str], answers: Sequence[str | None]) -> list[Asked]:
    results = search.search_many([Question(q, top_k=10) for q in queries])
    asked = []
    for hits, answer in zip(results, answers, strict=True):
        if not hits:
            continue
        other = next((h.score for h in hits[1:] if h.answer != hits[0].answer), None)
        asked.append(
            Asked(
                hits[0].score,
                1.0 if other is None else hits[0].score - other,
                hits[0].answer == answer,
                tuple(h.answer == answer for h in hits[:SUGGESTIONS]),
                tuple(h.score for h in hits[:SUGGESTIONS]),
            )
        )
    return asked


def outcome(rule: DecisionRule, asked: Sequence[Asked]) -> tuple[float, float]:
    passing = [rule.status(a.best, a.margin) == ANSWERED for a in asked]
    right = sum(p and a.top_right for p, a in zip(passing, asked, strict=True))
    return right / len(asked), (sum(passing) - right) / len(asked)


def frontier(wordings: Sequence[Sequence[Asked]], near: Sequence[Asked], far: Sequence[Asked]) -> float:
    """The hindsight frontier, on the mean over the wording sets."""
    every = [a for s in wordings for a in s]
    scores = np.unique([a.best for a in every])
    margins = np.unique([a.margin for a in every] + [0.0])
    best = 0.0
    for t in scores:
        for m in margins:
            rule = DecisionRule(float(t), float(m), 0.0, 0.0)
            cells = [outcome(rule, s) for s in wordings]
            if any(w > 0.05 for _, w in cells):
                continue
            if near and outcome(rule, near)[1] > 0.15 or far and outcome(rule, far)[1] > 0.02:
                continue
            best = max(best, float(np.mean([r for r, _ in cells])))
    return best


def labels_of(rule: DecisionRule, asked: Sequence[Asked]) -> list[Label]:
    """What askers of a page would say (module doc), one client each."""
    labels = []
    for number, item in enumerate(asked):
        status = rule.status(item.best, item.margin)
        shown = (
            item.shown
            if status == CLARIFY
            else tuple(
                s and score >= rule.related_score for s, score in zip(item.shown, item.scores, strict=True)
            )
        )
        if status == ANSWERED or any(shown):
            labels.append(Label(item.best, item.margin, item.top_right, f"asker-{number}"))
        else:
            labels.append(Label(item.best, item.margin, None, f"asker-{number}"))
    return labels


def main(argv: list[str] | None = None) -> None:
    parser = study_parser("python -m experiments.layout_study", __doc__ or "")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    servable, settings = study_servable(args.servable)
    entries = unique_entries(load_faq(args.data).entries)
    sets = [load_paraphrases(path) for path in args.paraphrases]
    unanswerable = load_out_of_domain(args.out_of_domain)
    if len(sets) == 1:  # one set: its halves, one asked and the other measured
        sets = [sets[0][0::2], sets[0][1::2]]
    with tempfile.TemporaryDirectory() as folder:
        for name, path in layouts(entries, Path(folder)).items():
            layout_entries = unique_entries(load_faq(path).entries)
            search = scratch_search(servable, settings, "study")
            vectors = search.vectors_for(layout_entries)
            collection = search.store.create_version(
                "study", search.vector_sizes(), settings.sparse_vectors, search.multivector_sizes()
            )
            search.store.upsert(collection, layout_entries, vectors)
            search.store.point_alias_to("study", collection)
            dense = {k: v for k, v in vectors.items() if isinstance(v, np.ndarray)}
            rule = search.fit_rule(layout_entries, dense)
            wordings = [ask_all(search, [p.query for p in s], [p.answer for p in s]) for s in sets]
            near, far = (
                ask_all(search, queries, [None] * len(queries))
                for queries in ([q.query for q in unanswerable if q.kind == kind] for kind in ("near", "far"))
            )
            cells = " ".join(f"R {r:.3f} W {w:.3f}" for r, w in (outcome(rule, s) for s in wordings))
            print(  # noqa: T201 (the study's output)
                f"{name:18} rule {rule.answer_score:.3f}/{rule.answer_margin:.3f}  {cells}  "
                f"near {outcome(rule, near)[1]:.2f} far {outcome(rule, far)[1]:.2f}  "
                f"frontier {frontier(wordings, near, far):.3f}"
            )
            for asked_set, measured_set in ((0, 1), (1, 0)):
                fit = fit_from_labels(rule, labels_of(rule, wordings[asked_set]))
                learnt = replace(rule, answer_score=fit.answer_score, answer_margin=fit.answer_margin)
                r, w = outcome(learnt, wordings[measured_set])
                print(  # noqa: T201
                    f"{'':18} askers of set {asked_set + 1} -> set {measured_set + 1}: rule "
                    f"{learnt.answer_score:.3f}/{learnt.answer_margin:.3f}  R {r:.3f} W {w:.3f}  "
                    f"near {outcome(learnt, near)[1]:.2f}  ({fit.labels} labels: {fit.reason})"
                )
            search.store.close()


if __name__ == "__main__":
    main()
