"""What every `faq` command uses: stopping with a message (the project's failures named by
app.errors' table, as the API names them), settings from the environment with the command's
flags on top, and the options several commands share."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()
logger = logging.getLogger("faq")

FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="The data file's format when its extension does not say: jsonl, json, csv, tsv, "
        "xlsx, html or markdown.",
        show_default=False,
    ),
]
UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", help="The service. Default: $FAQ_URL, else http://127.0.0.1:8000.", show_default=False
    ),
]

FaqOption = Annotated[
    str | None,
    typer.Option(
        "--faq",
        help="The FAQ to work on, by name. Default: $FAQ_NAME, else the service's default FAQ.",
        show_default=False,
    ),
]


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)  # plain text: no wrapping inside paths
    return typer.Exit(code=2)


def settings_with(cls, **values):
    """A settings class from the environment, flags (those not None) taking precedence; a bad
    value stops with the problem."""
    try:
        return cls(**{key: value for key, value in values.items() if value is not None})
    except ValueError as exc:
        raise fail(str(exc)) from None


@contextmanager
def known_errors(after: str = "") -> Iterator[None]:
    """Stop with the message of a failure of the project's (app.errors) or a ValueError (a bad
    value given), `after` appended: what went wrong, never a traceback."""
    from app.errors import message_for

    try:
        yield
    except Exception as exc:
        known = message_for(exc)
        if known is None and not isinstance(exc, ValueError):
            raise
        raise fail(f"{known or exc} {after}".strip()) from None


DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="FAQ file: CSV, TSV, Excel .xlsx, JSON, JSONL, an HTML FAQ page or Markdown, by its "
        "extension or --format (columns or fields question, answer, optional source or category, "
        "filename, page or url). Default: $FAQ_DATA, else the public cloud FAQ data set, "
        "downloaded once.",
        show_default=False,
    ),
]


SkipInvalidOption = Annotated[
    bool,
    typer.Option("--skip-invalid", help="Skip malformed lines (and report how many) instead of failing."),
]


def from_environment(flag: str, what: str, variable: str, default: str) -> Any:
    """An option whose default comes from an environment variable (read by app.config)."""
    return typer.Option(flag, help=f"{what} Default: ${variable}, else {default}.", show_default=False)


DeviceOption = Annotated[
    str | None, from_environment("--device", "auto (CUDA when available), cpu or cuda.", "DEVICE", "auto")
]


ServableOption = Annotated[
    Path | None,
    from_environment("--servable", "Servable directory (from `faq train`).", "FAQ_SERVABLE", "var/servable"),
]


CollectionOption = Annotated[
    str | None, from_environment("--collection", "Collection alias.", "FAQ_COLLECTION", "faq")
]


HandOffUrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Use the `faq serve` at this URL. Without it, a service is looked for at $FAQ_URL "
        "(default http://127.0.0.1:8000) and used when it answers.",
        show_default=False,
    ),
]


def model_settings(servable: Path | None, device: str | None):
    from app.config import ModelSettings

    return settings_with(ModelSettings, FAQ_SERVABLE=servable, DEVICE=device)


def store_settings(collection: str | None):
    from app.config import StoreSettings

    return settings_with(StoreSettings, FAQ_COLLECTION=collection)


def data_path(data: Path | None) -> Path:
    """The data file: --data, else $FAQ_DATA, else the reference data set (downloaded once)."""
    from app.domain.data_source import resolve_data_path

    with known_errors():
        return resolve_data_path(data)
