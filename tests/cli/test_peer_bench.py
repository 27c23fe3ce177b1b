"""`faq bench --peer txtai`: the service beside txtai, a real peer, in one run. txtai lives in an
environment of its own (FAQ_PEER_PYTHON); without one the run is skipped with that reason."""

import json
import os
from pathlib import Path

import pytest

from benchmarks import peer_bench
from cli.main import app
from tests.conftest import MINI_FAQ

PEER_PYTHON = os.environ.get("FAQ_PEER_PYTHON", "var/txtai/bin/python")


def test_a_missing_peer_environment_is_refused_by_name(tmp_path, capsys):
    missing = tmp_path / "no-such-env" / "python"
    with pytest.raises(SystemExit) as exited:
        peer_bench.main(["--data", str(MINI_FAQ), "--peer-python", str(missing)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "txtai" in err


def test_bad_load_settings_are_refused(capsys):
    for bad in (["--clients", "0"], ["--seconds", "-1"], ["--rounds", "0"]):
        with pytest.raises(SystemExit):
            peer_bench.main(["--data", str(MINI_FAQ), "--peer-python", "python3", *bad])
        assert "must be positive" in capsys.readouterr().err


def test_faq_bench_hands_peer_to_the_peer_bench():
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["bench", "--peer", "txtai", "--help"])
    assert result.exit_code == 0, result.output
    assert "--peer-python" in result.output and "txtai" in result.output


def test_the_stage_means_between_two_readings_of_metrics():
    def metrics(encode_seconds: float, encodes: int) -> str:
        return "\n".join(
            [
                'faq_ask_stage_seconds_bucket{stage="encode",le="0.005"} 3.0',
                f'faq_ask_stage_seconds_sum{{stage="encode"}} {encode_seconds}',
                f'faq_ask_stage_seconds_count{{stage="encode"}} {encodes}.0',
                'faq_ask_stage_seconds_sum{stage="store"} 0.5',
                'faq_ask_stage_seconds_count{stage="store"} 2.0',
            ]
        )

    before, after = peer_bench.stage_totals(metrics(1.0, 10)), peer_bench.stage_totals(metrics(1.03, 14))
    assert before["encode"] == (1.0, 10.0)
    # only what ran between the readings, and no stage that did not run
    assert peer_bench.stage_means(before, after) == {"encode": 7.5}


@pytest.mark.slow
@pytest.mark.skipif(not Path(PEER_PYTHON).exists(), reason=f"no txtai environment at {PEER_PYTHON}")
def test_the_service_and_txtai_answer_side_by_side(trained_servable, tmp_path, capsys):
    output = tmp_path / "peer.json"
    wordings = tmp_path / "wordings.jsonl"
    faq = [json.loads(line) for line in MINI_FAQ.read_text().splitlines()]
    wordings.write_text(
        "\n".join(json.dumps({"query": e["question"].lower(), "question": e["question"]}) for e in faq[:10])
    )
    peer_bench.main(
        [
            "--data", str(MINI_FAQ), "--servable", str(trained_servable), "--paraphrases", str(wordings),
            "--peer-python", PEER_PYTHON, "--seconds", "1", "--rounds", "2", "--clients", "4",
            "--output", str(output),
        ]
    )  # fmt: skip
    result = json.loads(output.read_text())
    for name in ("service", "txtai"):
        load = result["load"][name]
        assert load["lone"]["requests"] > 0 and load["busy"]["requests"] > 0, load
        assert load["lone"]["failed"] == load["busy"]["failed"] == 0, load
        assert load["lone"]["requests"] == sum(load["lone"]["statuses"].values()), "both rounds pooled"
        assert result["precision"][name]["wordings"] == 10
    assert result["precision"]["service"]["precision_at_1"] >= 0.8
    stages = result["service_stages_ms"]  # from the service's /metrics, for each phase
    assert stages["lone"]["encode_both_sides"] > 0 and stages["busy"]["queue"] >= 0, stages
    assert "precision@1" in capsys.readouterr().out
