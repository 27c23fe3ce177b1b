import json
from pathlib import Path

import pytest

from app.core.data import (
    DataError,
    FaqEntry,
    count_duplicates,
    load_faq,
    resolve_data_path,
    split_entries,
)
from tests.conftest import REAL_FAQ, requires_real_data


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"question": "q?", "answer": "a.", "source": "s", "filename": "f"})


@pytest.mark.parametrize(
    ("bad_line", "problem"),
    [
        ("{not json", "invalid JSON"),
        ('["a list"]', "expected a JSON object, got list"),
        ('{"answer": "a"}', "missing field 'question'"),
        ('{"question": "q"}', "missing field 'answer'"),
        ('{"question": "  ", "answer": "a"}', "field 'question' is empty"),
        ('{"question": "q", "answer": 3}', "field 'answer' must be a string, got int"),
        ('{"question": "q", "answer": "a", "source": 1}', "field 'source' must be a string"),
    ],
)
def test_bad_line_names_file_line_and_problem(tmp_path, bad_line, problem):
    path = write_lines(tmp_path / "faq.jsonl", [GOOD, GOOD, bad_line, GOOD])
    with pytest.raises(DataError) as info:
        load_faq(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 3" in message
    assert problem in message


def test_skip_invalid_skips_and_counts(tmp_path):
    path = write_lines(tmp_path / "faq.jsonl", [GOOD, "{oops", '{"question": "q"}', GOOD, ""])
    dataset = load_faq(path, skip_invalid=True)
    assert len(dataset.entries) == 2
    assert [line.line_number for line in dataset.invalid] == [2, 3]
    assert dataset.rows_read == 4
    assert "2 invalid lines skipped" in dataset.summary()


def test_duplicates_are_reported(tmp_path):
    other = json.dumps({"question": "other?", "answer": "b."})
    dataset = load_faq(write_lines(tmp_path / "faq.jsonl", [GOOD, other, GOOD, GOOD]))
    assert dataset.duplicates == 2
    assert "2 exact duplicate pairs" in dataset.summary()
    assert count_duplicates([FaqEntry("q", "a"), FaqEntry("q", "b")]) == 0


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_faq(tmp_path / "absent.jsonl")
    with pytest.raises(DataError, match="no valid FAQ entries"):
        load_faq(write_lines(tmp_path / "empty.jsonl", [""]))


def test_optional_fields_default_to_empty(tmp_path):
    dataset = load_faq(write_lines(tmp_path / "faq.jsonl", ['{"question": "q", "answer": "a"}']))
    assert dataset.entries == [FaqEntry("q", "a", "", "")]


def test_split_is_deterministic_and_stratified(mini_faq):
    entries = load_faq(mini_faq).entries
    first, second = split_entries(entries), split_entries(entries)
    assert first == second
    assert len(first.val) == 10 and len(first.train) == 30
    assert {e.source for e in first.val} == {"acme", "nimbus"}
    assert sum(e.source == "acme" for e in first.val) == 5
    assert set(first.train).isdisjoint(first.val)


def test_split_needs_a_few_entries():
    with pytest.raises(DataError, match="at least 4"):
        split_entries([FaqEntry("q", "a")] * 3)


def test_data_path_prefers_flag_then_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FAQ_DATA", str(tmp_path / "env.jsonl"))
    assert resolve_data_path(tmp_path / "flag.jsonl") == tmp_path / "flag.jsonl"
    assert resolve_data_path(None) == tmp_path / "env.jsonl"


def test_download_failure_names_the_data_option(monkeypatch, tmp_path):
    import app.core.data as data

    monkeypatch.delenv("FAQ_DATA", raising=False)
    monkeypatch.setattr(data, "DATASET_URL", "http://127.0.0.1:9/unreachable.jsonl")
    monkeypatch.setattr(data, "DEFAULT_DOWNLOAD_PATH", tmp_path / "faq.jsonl")
    with pytest.raises(DataError, match="--data"):
        data.download_reference_dataset(tmp_path / "faq.jsonl", timeout=2)


@requires_real_data()
def test_real_data_split_matches_the_reference():
    entries = load_faq(REAL_FAQ).entries
    split = split_entries(entries)
    assert len(entries) == 8498
    assert (len(split.train), len(split.val)) == (6373, 2125)


def test_page_context_turns_source_and_filename_into_words():
    from app.core.data import page_context, question_text

    entry = FaqEntry("what is the daily backup retention period?", "a", "aws", "fsx-lustre_faqs")
    assert page_context(entry) == "aws fsx lustre"
    assert (
        question_text(entry, with_context=True)
        == "aws fsx lustre: what is the daily backup retention period?"
    )
    assert question_text(entry, with_context=False) == entry.question
    assert page_context(FaqEntry("q", "a", "azure", "azure_azure_backup_overview")) == "azure backup"
    assert question_text(FaqEntry("q", "a"), with_context=True) == "q"  # no page: the plain question
