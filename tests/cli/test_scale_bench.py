"""`faq bench --scale`: both engines measured at a size, a table and the JSON beside it."""

import json

from typer.testing import CliRunner

from cli.main import app


def test_scale_bench_measures_both_engines(tmp_path):
    output = tmp_path / "scale.json"
    args = [
        "bench",
        "--scale",
        "--sizes",
        "300",
        "--queries",
        "5",
        "--local-queries",
        "5",
        "--output",
        str(output),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(output.read_text())
    rows = {row["engine"]: row for row in report["results"]}
    assert set(rows) == {"edge", "local-mode"}
    for row in rows.values():
        assert row["entries"] == 300 and row["recall_at_10"] == 1.0, row  # exact search at this size
        assert 0 < row["dense_p50_ms"] <= row["dense_p99_ms"] and row["load_s"] > 0
    assert rows["edge"]["disk_mb"] > 0
    assert "| edge | 300 |" in result.output


def test_scale_bench_rejects_bad_sizes():
    result = CliRunner().invoke(app, ["bench", "--scale", "--sizes", "ten"])
    assert result.exit_code != 0
