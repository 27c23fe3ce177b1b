"""What every `faq` command uses: stopping with a message, and settings from the environment
with the command's flags on top."""

from __future__ import annotations

import typer


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
