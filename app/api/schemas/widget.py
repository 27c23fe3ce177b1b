"""/admin/widget: the sites a FAQ's widget may be put on, and the snippet that puts it there."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from app.api.schemas.common import strict_body
from app.domain.origins import MAX_ORIGIN_CHARS, MAX_ORIGINS, normalise_origins


class WidgetIn(BaseModel):
    model_config = strict_body({"allowed_origins": ["https://shop.example", "https://help.shop.example"]})

    allowed_origins: Annotated[
        # An origin is a scheme, a host name (at most 253 characters) and a port.
        list[Annotated[str, Field(max_length=MAX_ORIGIN_CHARS)]],
        Field(
            max_length=MAX_ORIGINS,
            description="The sites (scheme://host[:port]) whose pages may use the widget and frame the "
            "embed page; every other site is refused (its browser cannot read the answers).",
        ),
        AfterValidator(normalise_origins),
    ]


class WidgetOut(BaseModel):
    allowed_origins: list[str]
    snippet: str = Field(
        description="What to add to a page of an allowed site (PUBLIC_KEY: a public key of this FAQ)."
    )
    embed_url: str = Field(description="The FAQ's page for an iframe on an allowed site.")
