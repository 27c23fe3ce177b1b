import re
from pathlib import Path

import pytest

from app.config import ClientSettings, DataSettings, ModelSettings, ServiceSettings, StoreSettings
from app.domain.faq_names import store_alias


def test_url_and_path_together_are_a_configuration_error():
    with pytest.raises(ValueError, match="both set"):
        StoreSettings(QDRANT_URL="http://localhost:6333", QDRANT_PATH="var/qdrant")
    assert StoreSettings(QDRANT_URL="http://x:6333").embedded_path is None
    assert str(StoreSettings().embedded_path) == "var/qdrant"
    assert StoreSettings(QDRANT_URL="  ").embedded_path is not None  # blank is unset


# Every variable the settings read, a valid value for it, and where it lands.
VARIABLES = {
    "QDRANT_URL": ("http://qdrant:6333", lambda s: s.qdrant_url, "http://qdrant:6333"),
    "QDRANT_API_KEY": ("secret", lambda s: s.qdrant_api_key.get_secret_value(), "secret"),
    "FAQ_COLLECTION": ("docs", lambda s: s.collection, "docs"),
    "FAQ_EDGE_OPEN_SHARDS": ("64", lambda s: s.edge_open_shards, 64),
    "FAQ_EDGE_POOL_MAX_ENTRIES": ("0", lambda s: s.edge_pool_max_entries, 0),
    "FAQ_DEFAULT_NAME": (
        "main-help",
        lambda s: store_alias(s, "main-help") + store_alias(s, "hr"),
        "docsdocs--hr",
    ),
    "FAQ_SHARD_NUMBER": ("3", lambda s: s.shard_number, 3),
    "FAQ_REPLICATION_FACTOR": ("2", lambda s: s.replication_factor, 2),
    "FAQ_WRITE_CONSISTENCY_FACTOR": ("2", lambda s: s.write_consistency_factor, 2),
    "FAQ_SERVABLE": ("/models/sv", lambda s: str(s.servable), "/models/sv"),
    "DEVICE": ("cpu", lambda s: s.device, "cpu"),
    "FAQ_RUNTIME": ("torch", lambda s: s.runtime, "torch"),
    "ADMIN_API_KEY": ("k", lambda s: s.admin_api_key.get_secret_value(), "k"),
    "FAQ_RECORD_QUESTIONS": ("false", lambda s: s.record_questions, False),
    "FAQ_UNANSWERED_MAX_RECORDS": ("50", lambda s: s.unanswered_max_records, 50),
    "FAQ_UNANSWERED_MAX_DAYS": ("7", lambda s: s.unanswered_max_days, 7.0),
    "FAQ_ASK_LOG_MAX_RECORDS": ("1000", lambda s: s.ask_log_max_records, 1000),
    "FAQ_KEEP_VERSIONS": ("5", lambda s: s.keep_versions, 5),
    "FAQ_FEEDBACK_PER_MINUTE": ("3", lambda s: s.feedback_per_minute, 3.0),
    "FAQ_RECORDS_PER_MINUTE": ("4", lambda s: s.records_per_minute, 4.0),
    "FAQ_ASK_LOG_PER_MINUTE": ("5", lambda s: s.ask_log_per_minute, 5.0),
    "FAQ_PUBLIC_KEY_PER_MINUTE": ("100", lambda s: s.public_key_per_minute, 100.0),
    "FAQ_PUBLIC_CLIENT_PER_MINUTE": ("6", lambda s: s.public_client_per_minute, 6.0),
    "SLACK_SIGNING_SECRET": ("s3cret", lambda s: s.slack_signing_secret.get_secret_value(), "s3cret"),
    "SLACK_BOT_TOKEN": ("xoxb-1", lambda s: s.slack_bot_token.get_secret_value(), "xoxb-1"),
    "SLACK_WORKSPACES": ("T01=hr, T02=it", lambda s: s.workspace_faqs(), {"T01": "hr", "T02": "it"}),
    "SLACK_DEFAULT_FAQ": ("help", lambda s: s.slack_default_faq, "help"),
    "SLACK_API_URL": ("http://slack.proxy/api/", lambda s: s.slack_api_url, "http://slack.proxy/api/"),
    "SLACK_INLINE_SECONDS": ("1.5", lambda s: s.slack_inline_seconds, 1.5),
    "FAQ_LEARN_FROM_ASKERS": ("false", lambda s: s.learn_from_askers, False),
    "FAQ_BATCH_MAX_SIZE": ("8", lambda s: s.batch_max_size, 8),
    "FAQ_BATCH_MAX_WAIT_MS": ("5", lambda s: s.batch_max_wait_ms, 5.0),
    "FAQ_BATCH_QUEUE_SIZE": ("16", lambda s: s.batch_queue_size, 16),
    "FAQ_EMBEDDING_CACHE_SIZE": ("0", lambda s: s.embedding_cache_size, 0),
    "FAQ_TORCH_THREADS": ("1", lambda s: s.torch_threads, 1),
    "FAQ_WRITE_NICENESS": ("7", lambda s: s.write_niceness, 7),
    "FAQ_MAX_UPLOAD_BYTES": ("1000", lambda s: s.max_upload_bytes, 1000),
    "FAQ_MAX_REQUEST_BYTES": ("500", lambda s: s.max_request_bytes, 500),
    "FAQ_BODY_TIMEOUT_S": ("3", lambda s: s.body_timeout_s, 3.0),
    "FAQ_MAX_CONNECTIONS": ("64", lambda s: s.max_connections, 64),
    "FORWARDED_ALLOW_IPS": (
        "172.28.0.10,10.0.0.0/8",
        lambda s: s.forwarded_allow_ips,
        "172.28.0.10,10.0.0.0/8",
    ),
}


def _aliases(cls) -> set[str]:
    return {f.validation_alias for f in cls.model_fields.values() if isinstance(f.validation_alias, str)}


def test_every_variable_is_read_from_the_environment(monkeypatch, tmp_path):
    # the list above is every variable of the service's settings, and each is documented
    assert _aliases(ServiceSettings) == set(VARIABLES) | {"QDRANT_PATH"}  # (checked at the end)
    page = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    first_cells = re.findall(r"^\| (`[A-Z_]+`(?:, `[A-Z_]+`)*) \|", page, re.MULTILINE)
    documented = {name for cell in first_cells for name in re.findall(r"`([A-Z_]+)`", cell)}
    every = _aliases(ServiceSettings) | _aliases(ClientSettings) | _aliases(DataSettings)
    # the configuration page lists every variable of the settings, and nothing they do not read
    # (PROMETHEUS_MULTIPROC_DIR is prometheus-client's own)
    assert documented - {"PROMETHEUS_MULTIPROC_DIR"} == every
    for name, (value, _, _) in VARIABLES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("QDRANT_PATH", raising=False)
    service = ServiceSettings()
    for name, (_, read, expected) in VARIABLES.items():
        assert read(service) == expected, name
    monkeypatch.setenv("FAQ_URL", "http://127.0.0.1:9999/")
    monkeypatch.setenv("FAQ_DATA", str(tmp_path / "faq.jsonl"))
    client = ClientSettings()
    assert client.url == "http://127.0.0.1:9999" and client.admin_api_key is not None
    assert client.faq_url() == "http://127.0.0.1:9999"  # no FAQ_NAME: the default FAQ's routes
    monkeypatch.setenv("FAQ_NAME", "hr")
    assert ClientSettings().faq_url() == "http://127.0.0.1:9999/faqs/hr"
    monkeypatch.setenv("FAQ_NAME", "HR team")
    with pytest.raises(ValueError, match="FAQ_NAME"):
        ClientSettings()
    assert DataSettings().data == tmp_path / "faq.jsonl"
    monkeypatch.delenv("QDRANT_URL")
    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "q"))
    assert StoreSettings().embedded_path == tmp_path / "q"


def test_bad_values_are_refused_with_the_variable_named():
    from app.config import ServiceSettings

    with pytest.raises(ValueError, match="FORWARDED_ALLOW_IPS: 'nginx'"):
        ServiceSettings(FORWARDED_ALLOW_IPS="10.0.0.1, nginx")
    with pytest.raises(ValueError, match="DEVICE must be one of"):
        ModelSettings(DEVICE="tpu")
    with pytest.raises(ValueError, match="FAQ_COLLECTION"):
        StoreSettings(FAQ_COLLECTION="no spaces allowed")
