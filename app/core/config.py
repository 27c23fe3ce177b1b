"""Service configuration from the environment (the spellings are a contract: see README)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.device import DEVICES

DEFAULT_QDRANT_PATH = Path("var/qdrant")
DEFAULT_SERVABLE = Path("var/servable")
MAX_QUESTION_CHARS = 2000


class StoreSettings(BaseSettings):
    """Where the vectors live: a Qdrant server (QDRANT_URL) or the embedded store (QDRANT_PATH)."""

    model_config = SettingsConfigDict(extra="ignore")

    qdrant_url: str | None = Field(default=None, validation_alias="QDRANT_URL")
    qdrant_api_key: SecretStr | None = Field(default=None, validation_alias="QDRANT_API_KEY")
    qdrant_path: Path | None = Field(default=None, validation_alias="QDRANT_PATH")
    collection: str = Field(
        default="faq", validation_alias="FAQ_COLLECTION", min_length=1, pattern=r"^[A-Za-z0-9_-]+$"
    )

    @field_validator("qdrant_url", "qdrant_path", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

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


class ServiceSettings(StoreSettings):
    """Everything `faq serve` reads from the environment."""

    servable: Path = Field(default=DEFAULT_SERVABLE, validation_alias="FAQ_SERVABLE")
    device: str = Field(default="auto", validation_alias="DEVICE")
    admin_api_key: SecretStr | None = Field(default=None, validation_alias="ADMIN_API_KEY")

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if value not in DEVICES:
            raise ValueError(f"DEVICE must be one of {', '.join(DEVICES)}, got '{value}'")
        return value
