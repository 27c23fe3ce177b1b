"""What every `faq` command uses: stopping with a message, settings from the environment
with the command's flags on top, and the options several commands share."""

from __future__ import annotations

from typing import Annotated

import typer

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
