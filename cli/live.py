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
from cli.common import FaqOption, FormatOption, UrlOption, fail, settings_with

console = Console()

entries_app = typer.Typer(
    help="Add, list and remove FAQ entries of the running service (admin: needs ADMIN_API_KEY).",
    no_args_is_help=True,
)
feedback_app = typer.Typer(help="Users' feedback on answers, as training pairs.", no_args_is_help=True)

OutputOption = Annotated[
    Path, typer.Option("--output", "-o", help="File to write (JSONL, the data-file format).")
]


def _target(url: str | None, faq: str | None) -> tuple[str, str | None]:
    """The service's address (with /faqs/NAME for a FAQ other than the default: every route of
    a FAQ is under it) and the key to send."""
    from app.config import ClientSettings

    client = settings_with(ClientSettings, FAQ_URL=url, FAQ_NAME=faq)
    return client.faq_url(), client.admin_api_key.get_secret_value() if client.admin_api_key else None


def call_service(
    method: str, url: str | None, faq: str | None, path: str, *, expected: tuple[int, ...] = (200,), **kwargs
):
    target, key = _target(url, faq)
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
    data_format: FormatOption = None,
    url: UrlOption = None,
    faq: FaqOption = None,
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
    ids = call_service("POST", url, faq, "/faq/entries", json=records, expected=(201,)).json()["ids"]
    for entry_id in ids:
        typer.echo(entry_id)
    typer.echo(f"added {len(ids)} entr{'y' if len(ids) == 1 else 'ies'}", err=True)


@entries_app.command("rm")
def remove(
    entry_ids: Annotated[list[str], typer.Argument(help="Ids of the entries (the `id` of /ask's answers).")],
    url: UrlOption = None,
    faq: FaqOption = None,
) -> None:
    """Delete entries; the service stops returning them at once."""
    for entry_id in entry_ids:
        call_service("DELETE", url, faq, f"/faq/entries/{entry_id}", expected=(204,))
        typer.echo(f"deleted {entry_id}")


@entries_app.command("list")
def list_entries(
    source: Annotated[str | None, typer.Option(help="Only entries of this source.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Entries to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line, with ids.")] = False,
    url: UrlOption = None,
    faq: FaqOption = None,
) -> None:
    """List entries with their ids."""
    params: dict[str, str | int] = {"limit": limit}
    if source:
        params["source"] = source
    page = call_service("GET", url, faq, "/faq/entries", params=params).json()
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
    faq: FaqOption = None,
) -> None:
    """Write the live FAQ (with every change made through the API) as a data file, for the next
    `faq train` / `faq index`. A full reindex replaces the live entries: export first."""
    target, key = _target(url, faq)
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
    faq: FaqOption = None,
) -> None:
    """Write helpful feedback as (user question, answer) pairs in the data-file format, for
    `faq train --extra-pairs`."""
    target, key = _target(url, faq)
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
    faq: FaqOption = None,
) -> None:
    """What users asked that the FAQ could not answer, grouped, most asked first."""
    body = call_service(
        "GET", url, faq, "/admin/unanswered", params={"min_similarity": min_similarity, "limit": limit}
    ).json()
    if not body["recording"]:
        console.print("recording is off (FAQ_RECORD_QUESTIONS=false)", style="yellow")
    table = Table(title=f"{body['questions']} unanswered questions")
    for column in ("asked", "question", "last asked"):
        table.add_column(column, overflow="fold")
    for group in body["groups"]:
        table.add_row(str(group["count"]), group["representative"], group["last_asked"])
    console.print(table)


@entries_app.command("add-wording")
def add_wording(
    entry_id: Annotated[str, typer.Argument(help="The entry's id (the `id` of /ask's answers).")],
    wordings: Annotated[list[str], typer.Argument(help="One or more wordings of its question.")],
    url: UrlOption = None,
    faq: FaqOption = None,
) -> None:
    """Add wordings of an entry's question (what users ask): they answer with it at once."""
    body = call_service(
        "POST", url, faq, f"/faq/entries/{entry_id}/alternates", json={"wordings": wordings}
    ).json()
    typer.echo(f"entry {body['id']} has {len(body['alternates'])} wordings besides its question")
    _print_warnings(body.get("warnings") or [])


def _print_warnings(warnings: list[dict]) -> None:
    for warning in warnings:
        console.print(f"warning: {warning['message']}", style="yellow", markup=False)


def review(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Items to show.")] = 20,
    accept: Annotated[
        str | None, typer.Option("--accept", help="Add this item's questions as wordings of --entry.")
    ] = None,
    entry: Annotated[str | None, typer.Option("--entry", help="With --accept: the entry's id.")] = None,
    create: Annotated[
        str | None, typer.Option("--create", help="Make a new entry of this item, with --answer.")
    ] = None,
    answer: Annotated[str | None, typer.Option("--answer", help="With --create: its answer.")] = None,
    source: Annotated[str, typer.Option("--source", help="With --create: its source.")] = "",
    dismiss: Annotated[str | None, typer.Option("--dismiss", help="Dismiss this item.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The items as JSON, one a line.")] = False,
    url: UrlOption = None,
    faq: FaqOption = None,
) -> None:
    """The review queue: what users asked that the FAQ did not answer well, most frequent first
    (unanswered groups, suggestions users picked, not-helpful answers), with the nearest
    entries. With --accept ITEM --entry ID, --create ITEM --answer TEXT or --dismiss ITEM, act
    on one item (its questions then leave the queue for good)."""
    actions = [a for a in (accept, create, dismiss) if a is not None]
    if len(actions) > 1:
        raise fail("give one of --accept, --create and --dismiss")
    if accept is not None:
        if entry is None:
            raise fail("--accept needs --entry ID: the entry the questions are wordings of")
        body = {"action": "add_wording", "entry_id": entry}
    elif create is not None:
        if not answer:
            raise fail("--create needs --answer TEXT")
        body = {"action": "create_entry", "answer": answer, "source": source}
    elif dismiss is not None:
        body = {"action": "dismiss"}
    if actions:
        done = call_service("POST", url, faq, f"/admin/review/{actions[0]}", json=body).json()
        if "entry" in done:
            typer.echo(f"{done['action']}: entry {done['entry']['id']} ({done['entry']['question']})")
        else:
            typer.echo(f"dismissed {done['dismissed']} questions")
        return
    items = call_service("GET", url, faq, "/admin/review", params={"limit": limit}).json()["items"]
    if as_json:
        for item in items:
            typer.echo(json.dumps(item, ensure_ascii=False))
        return
    table = Table(title=f"review queue: {len(items)} items")
    for column in ("item", "kind", "asked", "questions", "nearest entries"):
        table.add_column(column, overflow="fold")
    for item in items:
        nearest = "\n".join(f"{n['id'][:8]} {n['question']} ({n['score']:.2f})" for n in item["nearest"])
        table.add_row(item["id"], item["kind"], str(item["count"]), "\n".join(item["examples"]), nearest)
    console.print(table)


def import_to_service(
    file: Path, fmt: str, *, replace: bool, dry_run: bool, url: str | None, faq: str | None = None
) -> None:
    """`faq import FILE --to-service`: POST /admin/import, print the report, wait for a
    replace's reindex job."""
    from app.domain.records import read_file

    target, key = _target(url, faq)
    params = {"mode": "replace" if replace else "merge", "dry_run": str(dry_run).lower(), "format": fmt}
    try:
        response = remote.call(
            "POST",
            target,
            "/admin/import",
            api_key=key,
            expected=(200, 202, 422),
            content=read_file(file),
            params=params,
            timeout=3600,
        )
    except remote.RemoteError as exc:
        raise fail(str(exc)) from None
    report = response.json()
    for error in report.get("errors", []):
        console.print(f"{file}, {error['where']}: {error['problem']}", style="red", markup=False)
    if "added" not in report:  # not a FAQ file at all
        raise fail(str(report.get("detail")))
    for column in report.get("ignored_columns", []):
        console.print(f"{file}: {column}", style="yellow", markup=False)
    _print_warnings(report.get("warnings", []))
    counts = ", ".join(f"{report[k]} {k}" for k in ("added", "changed", "removed", "unchanged"))
    if response.status_code == 422:
        raise fail(f"{file}: {counts} if it were valid; nothing imported ({report.get('detail')})")
    console.print(f"{'would be' if dry_run else 'import'} ({params['mode']}): {counts}", markup=False)
    job = report.get("job")
    if job is not None:
        console.print(f"reindex job {job['id']} started; waiting for it", markup=False)
        try:
            remote.wait_for_job(target, job, api_key=key)
        except remote.RemoteError as exc:
            raise fail(str(exc)) from None
        console.print("the imported FAQ is live", style="green")


def test_set(
    file: Annotated[
        Path,
        typer.Argument(
            help="The test set: `question`, and `expected_id` or `expected_question` (or `none`: "
            "must not be answered) a row; any data format."
        ),
    ],
    version: Annotated[
        str | None, typer.Option("--version", help="The version to test (default: the live one).")
    ] = None,
    data_format: FormatOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="The whole result as JSON.")] = False,
    url: UrlOption = None,
    faq: FaqOption = None,
) -> None:
    """Run a FAQ test set against the running service (a version of it): right, asked back with
    the right entry, wrong, declined; the result is kept with the version (an activation that
    answers it worse than the live version is refused). Exits 1 when any case is wrong."""
    from app.domain.entry import DataError
    from app.domain.formats import format_of_path
    from app.domain.records import read_file

    try:
        fmt = format_of_path(file, data_format)
        content = read_file(file)
    except DataError as exc:
        raise fail(str(exc)) from None
    params = {"format": fmt, **({"version": version} if version else {})}
    result = call_service(
        "POST", url, faq, "/admin/test", content=content, params=params, timeout=3600
    ).json()
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        for case in result["results"]:
            if case["outcome"] in ("wrong", "declined"):
                got = case["top_question"] or case["status"]
                expected = case["expected_question"]
                console.print(
                    f"{case['outcome']}: {case['question']!r}: expected {expected!r}, got {got!r}",
                    markup=False,
                )
        console.print(
            f"{result['version']}: {result['total']} questions: {result['right']} right, "
            f"{result['clarified']} asked back with the right entry, {result['wrong']} wrong, "
            f"{result['declined']} declined",
            markup=False,
        )
    if result["wrong"]:
        raise typer.Exit(1)
