"""benchmarks.review_scale runs end to end at a small size and reports what it listed."""

import json

from benchmarks.review_scale import main


def test_review_scale_benchmark_lists_the_queue(tmp_path):
    output = tmp_path / "review.json"
    assert main(["--records", "300", "--asks", "2000", "--repeats", "1", "--output", str(output)]) == 0
    report = json.loads(output.read_text())
    assert report["unanswered_questions"] == 285  # one record in twenty is feedback instead
    # 285 distinct questions and 15 feedback items: both lists fill their first page of 50
    assert report["review_items_listed"] == 50 and report["unanswered_groups_listed"] == 50
    # every logged ask is counted in the 30 days of insights (they were all asked today)
    assert report["insights_asks_counted"] == 2000
