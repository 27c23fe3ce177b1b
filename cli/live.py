"""`faq entries`, `faq export`, `faq feedback` and `faq unanswered`: managing a live FAQ through
the running service, which owns it (the same routes a team's own tools would call)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli import remote
from cli.common import fail, settings_with

console = Console()

entries_app = typer.Typer(
    help="Add, list and remove FAQ entries of the running service (admin: needs ADMIN_API_KEY).",
    no_args_is_help=True,
)
feedback_app = typer.Typer(help="Users' feedback on answers, as training pairs.", no_args_is_help=True)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", help="The service. Default: $FAQ_URL, else http://127.0.0.1:8000.", show_default=False
    ),
]
OutputOption = Annotated[
    Path, typer.Option("--output", "-o", help="File to write (JSONL, the data-file format).")
]


def _target(url: str | None) -> tuple[str, str | None]:
    from app.config import ClientSettings

    client = settings_with(ClientSettings, FAQ_URL=url)
    return client.url, client.admin_api_key.get_secret_value() if client.admin_api_key else None


def _call(method: str, url: str | None, path: str, *, expected: tuple[int, ...] = (200,), **kwargs):
    target, key = _target(url)
    try:
        return remote.call(method, target, path, api_key=key, expected=expected, **kwargs)
    except remote.RemoteError as exc:
        raise fail(str(exc)) from None


@entries_app.command("add")
def add(
    question: Annotated[str | None, typer.Option(help="The entry's question.")] = None,
    answer: Annotated[str | None, typer.Option(help="The entry's answer.")] = None,
    source: Annotated[str, typer.Option(help="The FAQ it belongs to (for the source filter).")] = "",
    filename: Annotated[str, typer.Option(help="Its page (e.g. billing_faqs).")] = "",
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Add every entry of this file instead (CSV, TSV, .xlsx, JSON, JSONL, HTML or "
            "Markdown, by extension or --format).",
        ),
    ] = None,
    data_format: Annotated[
        str | None,
        typer.Option(
            "--format", help="The file's format when its extension does not say.", show_default=False
        ),
    ] = None,
    url: UrlOption = None,
) -> None:
    """Add one entry (--question and --answer) or a file of them; they answer at once."""
    from app.domain.entry import DataError
    from app.domain.records import load_faq

    if file is not None:
        if question or answer:
            raise fail("give either --file or --question/--answer, not both")
        try:
            records = [entry.to_record() for entry in load_faq(file, fmt=data_format).entries]
        except DataError as exc:
            raise fail(str(exc)) from None
    elif question and answer:
        records = [{"question": question, "answer": answer, "source": source, "filename": filename}]
    else:
        raise fail("give --question and --answer (or --file FILE)")
    ids = _call("POST", url, "/faq/entries", json=records, expected=(201,)).json()["ids"]
    for entry_id in ids:
        typer.echo(entry_id)
    typer.echo(f"added {len(ids)} entr{'y' if len(ids) == 1 else 'ies'}", err=True)


@entries_app.command("rm")
def remove(
    entry_ids: Annotated[list[str], typer.Argument(help="Ids of the entries (the `id` of /ask's answers).")],
    url: UrlOption = None,
) -> None:
    """Delete entries; the service stops returning them at once."""
    for entry_id in entry_ids:
        _call("DELETE", url, f"/faq/entries/{entry_id}", expected=(204,))
        typer.echo(f"deleted {entry_id}")


@entries_app.command("list")
def list_entries(
    source: Annotated[str | None, typer.Option(help="Only entries of this source.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Entries to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line, with ids.")] = False,
    url: UrlOption = None,
) -> None:
    """List entries with their ids."""
    params: dict[str, str | int] = {"limit": limit}
    if source:
        params["source"] = source
    page = _call("GET", url, "/faq/entries", params=params).json()
    if as_json:
        for entry in page["entries"]:
            typer.echo(json.dumps(entry, ensure_ascii=False))
        return
    table = Table(show_lines=False)
    for column in ("id", "source", "question"):
        table.add_column(column, overflow="fold")
    for entry in page["entries"]:
        table.add_row(entry["id"], entry["source"], entry["question"])
    console.print(table)
    if page["next_cursor"]:
        console.print("more entries follow; `faq export` writes them all", style="dim")


def export(
    output: OutputOption,
    source: Annotated[str | None, typer.Option(help="Only entries of this source.")] = None,
    url: UrlOption = None,
) -> None:
    """Write the live FAQ (with every change made through the API) as a data file, for the next
    `faq train` / `faq index`. A full reindex replaces the live entries: export first."""
    target, key = _target(url)
    params = {"format": "jsonl", **({"source": source} if source else {})}
    try:
        count = remote.download(target, "/faq/entries", output, api_key=key, params=params)
    except remote.RemoteError as exc:
        raise fail(str(exc)) from None
    console.print(f"wrote {count} entries to {output}", style="green")


@feedback_app.command("export")
def feedback_export(
    output: OutputOption,
    everything: Annotated[
        bool,
        typer.Option("--all", help="Every feedback record (helpful or not, with comments), not pairs."),
    ] = False,
    url: UrlOption = None,
) -> None:
    """Write helpful feedback as (user question, answer) pairs in the data-file format, for
    `faq train --extra-pairs`."""
    target, key = _target(url)
    try:
        count = remote.download(
            target, "/admin/feedback", output, api_key=key, params={"pairs": str(not everything).lower()}
        )
    except remote.RemoteError as exc:
        raise fail(str(exc)) from None
    console.print(f"wrote {count} {'records' if everything else 'pairs'} to {output}", style="green")


def unanswered(
    min_similarity: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="How similar questions must be to share a group.")
    ] = 0.7,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Groups to show.")] = 20,
    url: UrlOption = None,
) -> None:
    """What users asked that the FAQ could not answer, grouped, most asked first."""
    body = _call(
        "GET", url, "/admin/unanswered", params={"min_similarity": min_similarity, "limit": limit}
    ).json()
    if not body["recording"]:
        console.print("recording is off (FAQ_RECORD_QUESTIONS=false)", style="yellow")
    table = Table(title=f"{body['questions']} unanswered questions")
    for column in ("asked", "question", "last asked"):
        table.add_column(column, overflow="fold")
    for group in body["groups"]:
        table.add_row(str(group["count"]), group["representative"], group["last_asked"])
    console.print(table)
