import pytest

from app.config import ClientSettings, DataSettings, ModelSettings, ServiceSettings, StoreSettings


def test_url_and_path_together_are_a_configuration_error():
    with pytest.raises(ValueError, match="both set"):
        StoreSettings(QDRANT_URL="http://localhost:6333", QDRANT_PATH="var/qdrant")
    assert StoreSettings(QDRANT_URL="http://x:6333").embedded_path is None
    assert str(StoreSettings().embedded_path) == "var/qdrant"
    assert StoreSettings(QDRANT_URL="  ").embedded_path is not None  # blank is unset


def test_every_variable_is_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FAQ_SERVABLE", str(tmp_path / "sv"))
    monkeypatch.setenv("DEVICE", "cpu")
    monkeypatch.setenv("FAQ_COLLECTION", "docs")
    monkeypatch.setenv("ADMIN_API_KEY", "k")
    monkeypatch.setenv("FAQ_URL", "http://127.0.0.1:9999/")
    monkeypatch.setenv("FAQ_DATA", str(tmp_path / "faq.jsonl"))
    service = ServiceSettings()
    assert (service.servable, service.device, service.collection) == (tmp_path / "sv", "cpu", "docs")
    assert service.admin_api_key is not None and service.admin_api_key.get_secret_value() == "k"
    client = ClientSettings()
    assert client.url == "http://127.0.0.1:9999" and client.admin_api_key is not None
    assert DataSettings().data == tmp_path / "faq.jsonl"


def test_bad_values_are_refused_with_the_variable_named():
    with pytest.raises(ValueError, match="DEVICE must be one of"):
        ModelSettings(DEVICE="tpu")
    with pytest.raises(ValueError, match="FAQ_COLLECTION"):
        StoreSettings(FAQ_COLLECTION="no spaces allowed")
