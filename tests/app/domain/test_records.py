import json
from pathlib import Path

import pytest

from app.domain.entry import DataError, FaqEntry, count_duplicates, unique_entries
from app.domain.records import load_faq, parse_dataset


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
        ('{"question": "  ", "answer": "a"}', "field 'question' must not be empty"),
        ('{"question": "q", "answer": 3}', "field 'answer' must be a string, got int"),
        ('{"question": "q", "answer": "a", "source": 1}', "field 'source' must be a string"),
        ('{"question": "q", "answer": "a", "filename": "f\\ud800"}', "field 'filename' contains an invalid"),
        ('{"question": "q\\udfff", "answer": "a"}', "lone UTF-16 surrogate"),
        ("[" * 100_000, "nested too deeply"),
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
    assert [row.where for row in dataset.invalid] == ["line 2", "line 3"]
    assert dataset.rows_read == 4
    assert "2 invalid rows skipped" in dataset.summary()


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


def test_entry_ids_are_stable_and_depend_on_every_field():
    entry = FaqEntry("q1", "answer one", "aws", "f1")
    assert entry.id == FaqEntry("q1", "answer one", "aws", "f1").id
    assert len({entry.id, FaqEntry("q1", "answer one", "aws", "f2").id, FaqEntry("q2", "answer one").id}) == 3
    assert unique_entries([entry, FaqEntry("x", "y"), entry]) == [entry, FaqEntry("x", "y")]


def test_an_upload_is_parsed_like_a_file(tmp_path):
    dataset = parse_dataset([GOOD, "", GOOD], origin=Path("upload"))
    assert len(dataset.entries) == 2 and dataset.duplicates == 1
    with pytest.raises(DataError, match="upload, line 2: invalid JSON"):
        parse_dataset([GOOD, "{"], origin=Path("upload"))
