"""`python -m benchmarks.tenancy_scale`: both ways of holding many FAQs measured, each FAQ's
points written, counted apart from the others, and gone after its delete (slow: four child
processes; the service's own isolation is tests/app/api/test_faqs.py)."""

import json

import pytest

from benchmarks import tenancy_scale


@pytest.mark.slow
def test_tenancy_bench_measures_both_storages(tmp_path, capsys):
    output = tmp_path / "tenancy.json"
    tenancy_scale.main(["--layouts", "3x20", "--queries", "5", "--output", str(output)])
    rows = json.loads(output.read_text())["results"]
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
    assert "| payload-partition | 3 | 20 |" in capsys.readouterr().out


def test_tenancy_bench_rejects_a_bad_layout():
    with pytest.raises(SystemExit):
        tenancy_scale.main(["--layouts", "ten"])
