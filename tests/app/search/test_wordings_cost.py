"""benchmarks.wordings_cost runs end to end on the mini FAQ and reports both sides."""

import json

import pytest

from benchmarks.wordings_cost import main
from tests.conftest import MINI_FAQ, MINI_PARAPHRASES


@pytest.mark.slow  # two index builds for a smoke test: `make test-slow`
def test_wordings_cost_benchmark_runs(tmp_path):
    output = tmp_path / "cost.json"
    assert (
        main(
            [
                "--data",
                str(MINI_FAQ),
                "--wordings",
                str(MINI_PARAPHRASES),
                "--rounds",
                "1",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    report = json.loads(output.read_text())
    # every one of the 6 mini wordings was added to its entry and asked
    assert report["entries"] == 40 and report["wordings"] == report["questions"] == 6
    # the ratio is of the two figures measured in the same run
    with_, without = report["ms_per_question_with_wordings"], report["ms_per_question_without_wordings"]
    assert report["ratio"] == pytest.approx(with_ / without, rel=0.01)
