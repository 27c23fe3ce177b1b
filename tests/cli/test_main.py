import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.encoding.servable import Servable
from tests.conftest import MINI_FAQ, MINI_OUT_OF_DOMAIN, MINI_PARAPHRASES, REPO_ROOT

FAQ = [sys.executable, "-m", "cli.main"]


def run_faq(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """`faq ARGS` in a new process, as a user runs it (logs on stderr, the real exit code)."""
    merged = {**os.environ, **(env or {})}
    return subprocess.run(
        [*FAQ, *args], capture_output=True, text=True, cwd=REPO_ROOT, env=merged, timeout=timeout
    )


def invoke(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`faq ARGS` in this process (no interpreter start-up): for the quick paths."""
    from typer.testing import CliRunner

    from cli.main import app

    result = CliRunner().invoke(app, list(args), env=env)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def test_help_lists_the_commands_and_options():
    out = invoke("--help")
    assert out.returncode == 0
    for command in ("train", "evaluate", "index", "serve", "ask"):
        assert command in out.stdout
    train_help = invoke("train", "--help").stdout
    for option in (
        "--data",
        "--output",
        "--epochs",
        "--lr",
        "--batch-size",
        "--seed",
        "--device",
        "--encoder",
        "--format",
    ):
        assert option in train_help
    assert "--json" in invoke("evaluate", "--help").stdout


# Trains for real (half a minute): `make test-slow`; tests/training covers training in the default run.
@pytest.mark.slow
def test_train_then_evaluate_end_to_end(tmp_path: Path):
    servable = tmp_path / "servable"
    out = run_faq(
        "train",
        "--data",
        str(MINI_FAQ),
        "--output",
        str(servable),
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--device",
        "cpu",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--encoder",
        "finetune",  # 40 entries would be served untrained (too few to measure): train anyway
    )
    assert out.returncode == 0, out.stderr
    assert "servable saved to" in out.stdout
    assert "encoder: finetune" in " ".join(out.stdout.split())
    assert "decision rule: answer when score >=" in " ".join(out.stdout.split())
    # it trained: on the 30 entries of the train split, into an encoder that is not the base one
    meta = json.loads((servable / "faq_servable.json").read_text())
    assert meta["train_pairs"] == 30 and meta["choice"]["encoder"] == "finetune"
    texts = ["how do i contact support?", "what is dnssec?"]
    trained, base = Servable.load(servable, device="cpu"), Servable.from_base_model(device="cpu")
    assert not np.allclose(trained.encode(texts), base.encode(texts), atol=1e-3)

    out = invoke(  # in-process (a new interpreter costs seconds); the table run below is a process
        "evaluate",
        "--data",
        str(MINI_FAQ),
        "--servable",
        str(servable),
        "--json",
        "--paraphrases",
        str(MINI_PARAPHRASES),
        "--out-of-domain",
        str(MINI_OUT_OF_DOMAIN),
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert "paraphrase" in report["servable"] and "paraphrase_answers_only" in report["base"]
    for name in ("base", "servable"):
        outcomes = report[name]["outcomes"]
        assert set(outcomes) == {
            "confident_right",
            "confident_wrong",
            "right_shown",
            "asked_back",
            "declined",
            "far_answered",
            "far_asked_back",
            "near_answered",
            "near_asked_back",
        }
        assert outcomes["far_answered"] == 0.0 and outcomes["confident_wrong"] <= 0.2
        assert outcomes["right_shown"] >= 0.7
        rule = report[name]["decision_rule"]
        assert set(rule) == {
            "answer_score",
            "answer_margin",
            "clarify_score",
            "related_score",
            "encoder_accuracy",
        }
    assert set(report) == {"base", "servable"}
    for name in ("base", "servable"):
        assert set(report[name]) >= {"collection", "full_index", "in_batch"}
        assert set(report[name]["collection"]) == {"precision_at_1", "mrr", "recall_at_5"}
        assert set(report[name]["in_batch"]) == {"precision_at_1", "mrr"}
    # the mini data set is easy: the base encoder already finds most answers
    assert report["base"]["collection"]["precision_at_1"] >= 0.7

    table = run_faq("evaluate", "--data", str(MINI_FAQ), "--servable", str(servable))
    assert table.returncode == 0
    assert "full_index" in table.stdout and "precision_at_1" in table.stdout
    assert "paraphrase view is skipped" in table.stderr

    # index and ask without a server: straight against the embedded store
    env = {"QDRANT_PATH": str(tmp_path / "qdrant"), "FAQ_URL": "http://127.0.0.1:9"}
    out = invoke("index", "--data", str(MINI_FAQ), "--servable", str(servable), env=env)
    assert out.returncode == 0, out.stderr
    assert "rows read" in out.stdout and "40" in out.stdout
    out = invoke("ask", "how do i contact support?", "--servable", str(servable), "--top-k", "1", env=env)
    assert out.returncode == 0, out.stderr
    assert "open a ticket from the help center" in out.stdout
    out = invoke("ask", "who wrote war and peace?", "--servable", str(servable), env=env)
    assert out.returncode == 0, out.stderr
    assert "No answer: nothing in this FAQ answers that question." in out.stdout
    assert "Did you mean" not in out.stdout  # far from everything: nothing to ask back about


def test_bad_data_fails_with_file_and_line(tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answer": "a"}\n{"question": 1, "answer": "a"}\n')
    out = invoke("train", "--data", str(bad), "--output", str(tmp_path / "sv"))
    assert out.returncode == 2
    assert "bad.jsonl, line 2" in out.stderr and "must be a string" in out.stderr
    assert not (tmp_path / "sv").exists()


def test_data_from_environment_and_missing_servable(tmp_path: Path):
    out = invoke("evaluate", "--servable", str(tmp_path / "nothing"), env={"FAQ_DATA": str(MINI_FAQ)})
    assert out.returncode == 2
    assert "no servable at" in out.stderr


def test_index_with_bad_data_or_both_store_settings_fails_clearly(tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answer": ""}\n')
    out = invoke("index", "--data", str(bad), env={"QDRANT_PATH": str(tmp_path / "q")})
    assert out.returncode == 2
    assert "line 1: field 'answer' must not be empty" in out.stderr
    out = invoke(
        "index",
        "--data",
        str(MINI_FAQ),
        env={"QDRANT_PATH": str(tmp_path / "q"), "QDRANT_URL": "http://localhost:6333"},
    )
    assert out.returncode == 2 and "both set" in out.stderr


def test_serving_never_imports_training():
    """The serving image has no training/ (and no quaterion): the CLI and the app must not need it."""
    code = (
        "import sys\n"
        "import cli.main, app.main\n"
        "from typer.testing import CliRunner\n"
        "assert CliRunner().invoke(cli.main.app, ['serve', '--help']).exit_code == 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('training', 'quaterion'))\n"
        "assert not loaded, loaded\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr


def test_serve_workers_need_a_qdrant_server(tmp_path):
    out = invoke("serve", "--workers", "2", env={"QDRANT_PATH": str(tmp_path / "q"), "QDRANT_URL": ""})
    assert out.returncode == 2
    assert "--workers 2 needs a Qdrant server (set QDRANT_URL)" in out.stderr


def test_import_converts_any_format_and_reports_what_it_skipped(tmp_path: Path):
    sheet = tmp_path / "faq.tsv"
    sheet.write_text(
        "Question\tAnswer\tCategory\n"
        "How do I join? \tBring an ID.\tmembership\n"
        "What does it cost?\t\tfees\n"
        "How do I join? \tBring an ID.\tmembership\n",
        encoding="utf-8",
    )
    output = tmp_path / "out" / "faq.jsonl"
    out = invoke("import", str(sheet), "--output", str(output))
    assert out.returncode == 0, out.stderr
    report = " ".join(out.stdout.split())
    assert "read 3 rows" in report and "wrote 1 entry to" in report and "skipped 1" in report
    assert "dropped 1 exact duplicate" in report
    assert "skipped row 3: field 'answer' must not be empty" in report
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert records[0] == {
        "question": "How do I join?",
        "answer": "Bring an ID.",
        "source": "membership",
        "filename": "",
    }
    # the written file is the project's JSONL: it reads back as the same entries
    again = invoke("import", str(output), "--output", str(tmp_path / "again.jsonl"))
    assert again.returncode == 0 and (tmp_path / "again.jsonl").read_text() == output.read_text()
    missing = invoke("import", str(tmp_path / "nope.csv"), "--output", str(output))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    odd = invoke("import", str(sheet), "--output", str(output), "--format", "yaml")
    assert odd.returncode == 2 and "unknown format 'yaml'" in odd.stderr


def test_index_and_ask_a_named_faq_straight_against_the_store(tmp_path: Path, trained_servable):
    """`faq index --faq NAME` creates the FAQ in the store (the service lists it) and fills its
    own collections; `faq ask --faq NAME` asks it, and the default FAQ stays empty."""
    from app.config import StoreSettings
    from app.store.opening import open_store
    from app.tenancy.registry import FaqRegistry

    env = {"QDRANT_PATH": str(tmp_path / "qdrant"), "FAQ_URL": "http://127.0.0.1:9"}
    servable = ("--servable", str(trained_servable))
    out = invoke("index", "--data", str(MINI_FAQ), *servable, "--faq", "support", env=env)
    assert out.returncode == 0, out.stderr
    asked = invoke(
        "ask", "how do i contact support?", *servable, "--top-k", "1", env={**env, "FAQ_NAME": "support"}
    )
    assert asked.returncode == 0 and "open a ticket from the help center" in asked.stdout, asked.stderr
    default = invoke("ask", "how do i contact support?", *servable, env=env)
    assert default.returncode == 2 and "does not exist" in default.stderr  # nothing indexed there
    bad = invoke("ask", "how do i contact support?", *servable, "--faq", "Support Team", env=env)
    assert bad.returncode == 2 and "FAQ_NAME" in bad.stderr
    store = open_store(StoreSettings(QDRANT_PATH=str(tmp_path / "qdrant")))
    try:
        assert [r.name for r in FaqRegistry(store, "faq", "default").all()] == ["default", "support"]
        assert store.collection_info("faq--support").points == 40
    finally:
        store.close()
