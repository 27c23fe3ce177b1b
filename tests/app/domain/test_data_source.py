import pytest

import app.domain.data_source as data_source
from app.domain.data_source import resolve_data_path
from app.domain.entry import DataError


def test_data_path_prefers_flag_then_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FAQ_DATA", str(tmp_path / "env.jsonl"))
    assert resolve_data_path(tmp_path / "flag.jsonl") == tmp_path / "flag.jsonl"
    assert resolve_data_path(None) == tmp_path / "env.jsonl"


def test_without_flag_or_environment_the_reference_set_is_fetched(monkeypatch, tmp_path):
    monkeypatch.delenv("FAQ_DATA", raising=False)
    monkeypatch.setattr(data_source, "DATASET_URL", "http://127.0.0.1:9/unreachable.jsonl")
    with pytest.raises(DataError, match="--data"):
        data_source.download_reference_dataset(tmp_path / "faq.jsonl", timeout=2)


def test_a_download_with_the_wrong_checksum_is_refused(monkeypatch, tmp_path):
    source = tmp_path / "served.jsonl"
    source.write_text('{"question": "q", "answer": "a"}\n')
    monkeypatch.setattr(data_source, "DATASET_URL", source.as_uri())
    target = tmp_path / "out" / "faq.jsonl"
    with pytest.raises(DataError, match="checksum"):
        data_source.download_reference_dataset(target, timeout=2)
    assert not target.exists(), "a file that failed its checksum must not be kept"
