"""`python -m benchmarks.tenancy_scale`: both ways of holding many FAQs measured, each FAQ's
points written, counted apart from the others, and gone after its delete (slow: four child
processes; the service's own isolation is tests/app/api/test_faqs.py)."""

import json

import pytest

from benchmarks import tenancy_scale


@pytest.mark.slow
def test_tenancy_bench_measures_both_storages(tmp_path, capsys):
    output = tmp_path / "tenancy.json"
    tenancy_scale.main(["--layouts", "3x20", "--queries", "5", "--pool-sizes", "30", "--output", str(output)])
    report = json.loads(output.read_text())
    rows = report["results"]
    assert [(r["storage"], r["faqs"]) for r in rows] == [
        ("collection-per-faq", 1),
        ("collection-per-faq", 3),
        ("payload-partition", 1),
        ("payload-partition", 3),
    ], rows
    for row in rows:
        assert "error" not in row, row
        # The new FAQ holds its own entries only (a partition's count filters by FAQ), and
        # deleting it leaves none of them.
        assert row["new_faq_points"] == 20 and row["points_left_after_delete"] == 0, row
        assert row["ask_p50_ms"] <= row["ask_p99_ms"] and row["faqs_written_meanwhile"] >= 1, row
    # a shard a FAQ on one side, every FAQ in one pool shard on the other
    assert [r["shards"] for r in rows] == [1, 3, 1, 1], rows
    (size,) = report["pool_sizes"]
    assert size["entries"] == 30 and size["pool_points"] == 1000 * 100 + 30, size
    assert 0 < size["pooled_p50_ms"] <= size["pooled_p99_ms"] and 0 < size["own_p50_ms"], size
    out = capsys.readouterr().out
    assert "| payload-partition | 3 | 20 |" in out and "| 30 |" in out


def test_tenancy_bench_rejects_a_bad_layout():
    with pytest.raises(SystemExit):
        tenancy_scale.main(["--layouts", "ten"])
