"""Every setting read from the environment, in one place (the spellings are a contract:
see docs/configuration.md).

One class a concern; `ServiceSettings` combines those that `faq serve` needs. The CLI's flags
override these values; their defaults come from here, never from a second literal.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVICES = ("auto", "cpu", "cuda")
RUNTIMES = ("auto", "onnx-int8", "onnx", "torch")
DEFAULT_QDRANT_PATH = Path("var/qdrant")
DEFAULT_SERVABLE = Path("var/servable")
DEFAULT_CACHE_DIR = Path("var/cache")
DEFAULT_DOWNLOAD_PATH = Path("var/data/cloud_faq_dataset.jsonl")
DEFAULT_COLLECTION = "faq"
DEFAULT_FAQ_NAME = "default"
# What a FAQ may be called (app.domain.faq_names): here, because settings name FAQs too.
FAQ_NAME_PATTERN = r"^[a-z0-9-]{1,64}$"
DEFAULT_URL = "http://127.0.0.1:8000"


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, values: object) -> object:
        # `QDRANT_URL=` in a compose file or a shell means "not set", not "the empty URL".
        if isinstance(values, dict):
            return {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}
        return values


class StoreSettings(_Settings):
    """Where the vectors live: a Qdrant server (QDRANT_URL) or the embedded store (QDRANT_PATH)."""

    qdrant_url: str | None = Field(default=None, validation_alias="QDRANT_URL")
    qdrant_api_key: SecretStr | None = Field(default=None, validation_alias="QDRANT_API_KEY")
    qdrant_path: Path | None = Field(default=None, validation_alias="QDRANT_PATH")
    collection: str = Field(
        default=DEFAULT_COLLECTION,
        validation_alias="FAQ_COLLECTION",
        min_length=1,
        pattern=r"^[A-Za-z0-9_-]+$",
    )

    # The FAQ that the routes without /faqs/{faq} serve: a store written before FAQs had names
    # holds this one (under FAQ_COLLECTION), and it cannot be deleted.
    faq_default_name: str = Field(
        default=DEFAULT_FAQ_NAME, validation_alias="FAQ_DEFAULT_NAME", pattern=FAQ_NAME_PATTERN
    )

    # The embedded store keeps at most this many shards (collections) open, closing the least
    # recently used: each holds memory maps and memory (app.store.edge_engine.DEFAULT_MAX_OPEN).
    edge_open_shards: int = Field(default=400, validation_alias="FAQ_EDGE_OPEN_SHARDS", ge=8, le=100_000)

    # In the embedded store, a FAQ version of at most this many entries (and every record
    # collection) is a partition of a shared pool shard; a larger one gets a shard of its own;
    # 0: every collection a shard of its own (app.store.edge_engine.DEFAULT_POOL_MAX_POINTS).
    edge_pool_max_entries: int = Field(
        default=2_000, validation_alias="FAQ_EDGE_POOL_MAX_ENTRIES", ge=0, le=1_000_000
    )

    # Finished index versions kept (the live one included), for rollback; older ones are dropped
    # after each switch.
    keep_versions: int = Field(default=3, validation_alias="FAQ_KEEP_VERSIONS", ge=1, le=100)

    # Qdrant's distributed mode (a server cluster): applied to the collections the index job
    # creates; unset means Qdrant's defaults. Ignored, with a log line, by the embedded store.
    shard_number: int | None = Field(default=None, validation_alias="FAQ_SHARD_NUMBER", gt=0)
    replication_factor: int | None = Field(default=None, validation_alias="FAQ_REPLICATION_FACTOR", gt=0)
    write_consistency_factor: int | None = Field(
        default=None, validation_alias="FAQ_WRITE_CONSISTENCY_FACTOR", gt=0
    )

    def distribution(self) -> dict[str, int]:
        """The distribution settings that are set, as create_collection's arguments."""
        values = {
            "shard_number": self.shard_number,
            "replication_factor": self.replication_factor,
            "write_consistency_factor": self.write_consistency_factor,
        }
        return {name: value for name, value in values.items() if value is not None}

    @model_validator(mode="after")
    def _one_location(self) -> StoreSettings:
        if self.qdrant_url and self.qdrant_path:
            raise ValueError(
                "QDRANT_URL and QDRANT_PATH are both set: use QDRANT_URL for a Qdrant server "
                "or QDRANT_PATH for the embedded store, not both"
            )
        return self

    @property
    def embedded_path(self) -> Path | None:
        """The embedded store's folder, or None when a server is configured."""
        if self.qdrant_url:
            return None
        return self.qdrant_path or DEFAULT_QDRANT_PATH

    def describe(self) -> str:
        return (
            f"Qdrant server {self.qdrant_url}"
            if self.qdrant_url
            else f"embedded Qdrant at {self.embedded_path}"
        )


class ModelSettings(_Settings):
    """Which servable encodes questions and answers, and on which device."""

    servable: Path = Field(default=DEFAULT_SERVABLE, validation_alias="FAQ_SERVABLE")
    device: str = Field(default="auto", validation_alias="DEVICE")
    # How the encoders run: ONNX Runtime fp32 when the servable has an export (auto, the
    # default), always PyTorch (torch), ONNX with a warning when it cannot (onnx), or ONNX int8
    # (onnx-int8: faster, but it moves the decision rule's outcomes; docs/benchmarks.md).
    runtime: str = Field(default="auto", validation_alias="FAQ_RUNTIME")

    @field_validator("device", "runtime")
    @classmethod
    def _one_of_the_known(cls, value: str, info: ValidationInfo) -> str:
        variable, allowed = {"device": ("DEVICE", DEVICES), "runtime": ("FAQ_RUNTIME", RUNTIMES)}[
            str(info.field_name)
        ]
        if value not in allowed:
            raise ValueError(f"{variable} must be one of {', '.join(allowed)}, got '{value}'")
        return value


class AdminSettings(_Settings):
    """The key of the admin endpoints; they are disabled without one."""

    admin_api_key: SecretStr | None = Field(default=None, validation_alias="ADMIN_API_KEY")


class RecordingSettings(_Settings):
    """What the service keeps of the questions it could not answer (docs/operating.md, privacy)."""

    record_questions: bool = Field(default=True, validation_alias="FAQ_RECORD_QUESTIONS")
    unanswered_max_records: int = Field(default=10_000, validation_alias="FAQ_UNANSWERED_MAX_RECORDS", gt=0)
    unanswered_max_days: float = Field(default=90.0, validation_alias="FAQ_UNANSWERED_MAX_DAYS", gt=0)
    # The ask log (every question, for insights) keeps at most this many; the age limit above too.
    ask_log_max_records: int = Field(default=500_000, validation_alias="FAQ_ASK_LOG_MAX_RECORDS", gt=0)
    # What one client (address) may write: feedback posts, and recorded unanswered questions.
    feedback_per_minute: float = Field(default=10.0, validation_alias="FAQ_FEEDBACK_PER_MINUTE", gt=0)
    records_per_minute: float = Field(default=10.0, validation_alias="FAQ_RECORDS_PER_MINUTE", gt=0)
    # Asks one client may add to the ask log a minute (beyond, answered but not logged): one
    # script must not push everyone's history out of the log's cap.
    ask_log_per_minute: float = Field(default=60.0, validation_alias="FAQ_ASK_LOG_PER_MINUTE", gt=0)
    # Asks and feedback a public key (a widget's, on every visitor's page) may send a minute:
    # all its askers together, and each asker.
    public_key_per_minute: float = Field(default=600.0, validation_alias="FAQ_PUBLIC_KEY_PER_MINUTE", gt=0)
    public_client_per_minute: float = Field(
        default=30.0, validation_alias="FAQ_PUBLIC_CLIENT_PER_MINUTE", gt=0
    )
    # Whether the decision rule learns from askers' feedback and missed questions
    # (app.usage.calibration); off: the FAQ's own rule only.
    learn_from_askers: bool = Field(default=True, validation_alias="FAQ_LEARN_FROM_ASKERS")


class ServingSettings(_Settings):
    """How `/ask` uses the machine: micro-batches, the embedding cache, torch's threads."""

    batch_max_size: int = Field(default=32, validation_alias="FAQ_BATCH_MAX_SIZE", ge=1, le=256)
    batch_max_wait_ms: float = Field(default=2.0, validation_alias="FAQ_BATCH_MAX_WAIT_MS", ge=0, le=1000)
    batch_queue_size: int = Field(default=128, validation_alias="FAQ_BATCH_QUEUE_SIZE", ge=1)
    embedding_cache_size: int = Field(default=10_000, validation_alias="FAQ_EMBEDDING_CACHE_SIZE", ge=0)
    # How much lower the CPU priority of the writes' encoding is than the askers' (a niceness,
    # 0-19; 0: the same). Live writes and reindex jobs encode in threads lowered by this much, so
    # a large write takes the cores only when questions leave them (app.encoding.priority).
    write_niceness: int = Field(default=19, validation_alias="FAQ_WRITE_NICENESS", ge=0, le=19)
    # One worker thread encodes each batch, so torch's intra-op threads can have every core.
    torch_threads: int | None = Field(default=None, validation_alias="FAQ_TORCH_THREADS", ge=1)

    def threads(self) -> int:
        return self.torch_threads or os.cpu_count() or 1


class SlackSettings(_Settings):
    """The FAQ in Slack (docs/operating.md): a slash command, app mentions and buttons, each
    request verified with the app's signing secret; off while SLACK_SIGNING_SECRET is unset."""

    slack_signing_secret: SecretStr | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    # The bot's token: answering app mentions posts a message (chat.postMessage).
    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    # Which FAQ each workspace asks: "T0123=hr,T0456=it"; a workspace not listed asks
    # SLACK_DEFAULT_FAQ, or is told it is not connected when that is unset.
    slack_workspaces: str = Field(default="", validation_alias="SLACK_WORKSPACES")
    slack_default_faq: str | None = Field(
        default=None, validation_alias="SLACK_DEFAULT_FAQ", pattern=FAQ_NAME_PATTERN
    )
    # Slack's Web API (another address for a proxy or an Enterprise Grid gateway).
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias="SLACK_API_URL")
    # A slash command is answered in its own response when the answer is ready within this;
    # else "looking it up" at once and the answer through its response_url (Slack waits 3 s).
    slack_inline_seconds: float = Field(default=2.0, validation_alias="SLACK_INLINE_SECONDS", ge=0, le=2.5)

    @field_validator("slack_workspaces")
    @classmethod
    def _workspace_faqs(cls, value: str) -> str:
        _workspace_pairs(value)  # ValueError naming the bad pair
        return value

    def workspace_faqs(self) -> dict[str, str]:
        """The FAQ each listed workspace asks, by its team id."""
        return _workspace_pairs(self.slack_workspaces)


def _workspace_pairs(value: str) -> dict[str, str]:
    """SLACK_WORKSPACES ("T0123=hr,T0456=it") as team id -> FAQ name; ValueError for a bad pair."""
    found = {}
    for part in (p.strip() for p in value.split(",") if p.strip()):
        team, _, faq = (piece.strip() for piece in part.partition("="))
        if not re.fullmatch(r"[A-Z0-9]{2,32}", team) or not re.fullmatch(FAQ_NAME_PATTERN, faq):
            raise ValueError(f"SLACK_WORKSPACES: {part!r} is not TEAM_ID=faq-name (e.g. T0123ABC=hr)")
        found[team] = faq
    return found


class ServiceSettings(
    StoreSettings, ModelSettings, AdminSettings, RecordingSettings, ServingSettings, SlackSettings
):
    """Everything `faq serve` reads from the environment."""

    # A reindex upload is a whole data file (the reference one is 3 MB); any other request
    # body is a question and a few fields.
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, validation_alias="FAQ_MAX_UPLOAD_BYTES", gt=0)
    max_request_bytes: int = Field(default=64 * 1024, validation_alias="FAQ_MAX_REQUEST_BYTES", gt=0)
    # A client that sends its body slower than this is cut off (408); connections beyond the
    # limit are answered 503 by the server (uvicorn's limit_concurrency).
    body_timeout_s: float = Field(default=15.0, validation_alias="FAQ_BODY_TIMEOUT_S", gt=0)
    max_connections: int = Field(default=512, validation_alias="FAQ_MAX_CONNECTIONS", ge=1)
    # The reverse proxies whose X-Forwarded-For is believed (addresses or networks, comma
    # separated; "*": any): behind them the client is the last address in the header that is not
    # one of them, so budgets and labels count per visitor, not per proxy. uvicorn's own name
    # for the same setting; its proxy handling is off, the app does this under any server.
    forwarded_allow_ips: str = Field(default="127.0.0.1", validation_alias="FORWARDED_ALLOW_IPS")

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",")):
            if part and part != "*":
                try:
                    ipaddress.ip_network(part, strict=False)
                except ValueError:
                    raise ValueError(
                        f"FORWARDED_ALLOW_IPS: {part!r} is not an address or a network (or '*')"
                    ) from None
        return value


class FaqChoice(_Settings):
    """Which FAQ a command works on (FAQ_NAME; unset: the default FAQ)."""

    faq_name: str | None = Field(default=None, validation_alias="FAQ_NAME", pattern=FAQ_NAME_PATTERN)


class ClientSettings(AdminSettings, FaqChoice):
    """How the CLI finds a running `faq serve` (and the key it hands admin jobs to it with)."""

    url: str = Field(default=DEFAULT_URL, validation_alias="FAQ_URL")

    def faq_url(self) -> str:
        """The URL of the chosen FAQ's routes: the service's own for the default FAQ (whatever
        the service calls it), else under /faqs/NAME."""
        return f"{self.url}/faqs/{self.faq_name}" if self.faq_name else self.url

    @field_validator("url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.strip().rstrip("/") or DEFAULT_URL


class DataSettings(_Settings):
    """The FAQ data file used when a command gets no --data."""

    data: Path | None = Field(default=None, validation_alias="FAQ_DATA")
