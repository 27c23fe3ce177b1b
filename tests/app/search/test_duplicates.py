"""Warnings within a batch or a file: each entry names its closest earlier entries above the
threshold, at most NEAREST_WARNED of them (a batch of near-identical questions gets one set of
warnings an entry, not one a pair), and the same question with another answer is a conflict."""

from __future__ import annotations

import numpy as np

from app.domain.entry import FaqEntry
from app.search.duplicates import CONFLICT, DUPLICATE_SIMILARITY, NEAREST_WARNED, SIMILAR, warnings_among


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _brute_force(vectors: list[np.ndarray]) -> dict[int, list[tuple[float, int]]]:
    """Every earlier entry above the threshold, by each entry, closest first (the reference)."""
    found: dict[int, list[tuple[float, int]]] = {}
    for i, mine in enumerate(vectors):
        for j in range(i):
            best = float((mine @ vectors[j].T).max())
            if best >= DUPLICATE_SIMILARITY:
                found.setdefault(i, []).append((best, j))
    return {i: sorted(pairs, reverse=True) for i, pairs in found.items()}


def test_each_entry_names_its_closest_earlier_entries_and_no_more():
    rng = np.random.default_rng(0)
    centre = rng.normal(size=16)
    # 300 entries in three groups: 200 near-identical questions (the case a careless or hostile
    # batch sends), 60 loosely alike, 40 unrelated; some with a second wording
    rows = [centre + rng.normal(scale=0.02, size=16) for _ in range(200)]
    loose = rng.normal(size=16)
    rows += [loose + rng.normal(scale=0.5, size=16) for _ in range(60)]
    rows += [rng.normal(size=16) for _ in range(40)]
    vectors = []
    for n, row in enumerate(rows):
        wordings = [row] if n % 3 else [row, row + rng.normal(scale=0.3, size=16)]
        vectors.append(_unit(np.array(wordings)))
    entries = [FaqEntry(question=f"question {n}", answer=f"answer {n}") for n in range(len(rows))]
    ids = [f"id-{n}" for n in range(len(rows))]

    warnings = warnings_among(entries, vectors, ids)

    expected = _brute_force(vectors)
    by_entry: dict[int, list] = {}
    for warning in warnings:
        assert warning.kind == SIMILAR
        by_entry.setdefault(warning.index, []).append(warning)
    assert set(by_entry) == set(expected), "every entry with a near earlier one is warned"
    for i, mine in by_entry.items():
        closest = expected[i][:NEAREST_WARNED]
        assert len(mine) == min(NEAREST_WARNED, len(expected[i]))
        got = sorted(w.similarity for w in mine)
        assert np.allclose(got, sorted(s for s, _ in closest), atol=1e-5), "the closest ones"
        assert all(int(w.other_id.split("-")[1]) < i for w in mine), "names an earlier entry"
    assert len(warnings) <= NEAREST_WARNED * len(entries)
    assert len(expected[199]) == 199, "the near-identical group really is one pair each"


def test_the_same_question_with_another_answer_is_a_conflict():
    vector = _unit(np.ones((1, 4)))
    entries = [
        FaqEntry(question="How do I renew?", answer="Online."),
        FaqEntry(question="how do i  renew?", answer="At the desk."),
    ]
    (warning,) = warnings_among(entries, [vector, vector], ["a", "b"], where=["row 2", "row 3"])
    assert (warning.kind, warning.index, warning.other_id) == (CONFLICT, 1, "a")
    assert warning.message.startswith("row 3: the same question as entry a")
