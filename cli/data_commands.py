"""`faq index`, `faq import`, `faq check` and `faq migrate-store`: a FAQ file into the store
(or a check of one), and a store into Qdrant Edge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli import live
from cli.common import (
    CollectionOption,
    DataOption,
    DeviceOption,
    FaqOption,
    FormatOption,
    HandOffUrlOption,
    ServableOption,
    SkipInvalidOption,
    UrlOption,
    console,
    data_path,
    fail,
    from_environment,
    known_errors,
    logger,
    model_settings,
    settings_with,
    store_settings,
)


def _print_index_report(report: dict) -> None:
    table = Table(title=f"indexed into '{report['alias']}' ({report['collection']})", show_header=False)
    for key in ("rows_read", "indexed", "skipped", "duplicates", "seconds", "entries_per_second", "previous"):
        table.add_row(key.replace("_", " "), str(report.get(key)))
    console.print(table)
    from app.search.decision import DecisionRule, describe

    rule = DecisionRule.from_record(report.get("decision"))
    if rule is not None:
        console.print(f"decision rule fitted to this FAQ: {describe(rule)}")


def index(
    data: DataOption = None,
    servable: ServableOption = None,
    collection: CollectionOption = None,
    url: HandOffUrlOption = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Entries encoded and written per batch.")] = 256,
    device: DeviceOption = None,
    skip_invalid: SkipInvalidOption = False,
    data_format: FormatOption = None,
    faq: FaqOption = None,
) -> None:
    """Encode every FAQ entry into a new collection version and point the alias at it. With
    --faq NAME, into that FAQ of the store (created, open to askers, when it does not exist).

    Talks to Qdrant directly (QDRANT_URL, or the embedded store at QDRANT_PATH). When the
    embedded store is held by a running `faq serve`, or --url is given, the job is handed to
    that service (POST /admin/reindex, with ADMIN_API_KEY from the environment).
    """
    from app.assembly import load_servable, search_over
    from app.config import ClientSettings
    from app.domain.faq_names import store_alias
    from app.domain.formats import format_of_path
    from app.domain.records import load_faq
    from app.encoding.servable import ServableError
    from app.store.base import StoreError, StoreUnavailable
    from app.store.opening import open_store
    from app.tenancy.registry import FaqRegistry
    from app.writes.index_job import index_dataset
    from cli import remote

    file_path = data_path(data)
    with known_errors():
        dataset = load_faq(file_path, skip_invalid=skip_invalid, fmt=data_format)
    logger.info("data: %s", dataset.summary())
    settings = store_settings(collection)
    client = settings_with(ClientSettings, FAQ_URL=url, FAQ_NAME=faq)

    handoff_url = client.url if url else None
    store = None
    if handoff_url is None:
        try:
            store = open_store(settings)
        except StoreUnavailable as exc:
            if settings.embedded_path is None or not remote.is_running(client.url):
                raise fail(str(exc)) from None
            logger.info("the embedded store is held by the service at %s: handing the job to it", client.url)
            handoff_url = client.url
        except StoreError as exc:  # e.g. a store of an earlier release: the message names the command
            raise fail(str(exc)) from None
    if handoff_url is not None:
        key = client.admin_api_key.get_secret_value() if client.admin_api_key else None
        try:
            if client.faq_name:  # the chosen FAQ's routes
                handoff_url = f"{handoff_url}/faqs/{client.faq_name}"
            report = remote.reindex(
                handoff_url, file_path, api_key=key, fmt=format_of_path(file_path, data_format)
            )
        except remote.RemoteError as exc:
            raise fail(str(exc)) from None
        _print_index_report(report)
        return
    assert store is not None
    model = model_settings(servable, device)
    try:
        if client.faq_name and FaqRegistry(store, settings.collection, settings.faq_default_name).ensure(
            client.faq_name
        ):
            logger.info("created the FAQ '%s' in the store", client.faq_name)
        search = search_over(load_servable(model), store, store_alias(settings, client.faq_name))
        report_obj = index_dataset(dataset, search, batch_size=batch_size, keep=settings.keep_versions)
    except (ServableError, StoreError, ValueError) as exc:
        raise fail(f"{exc} (the previous index, if any, is still serving)") from None
    except KeyboardInterrupt:
        raise fail("interrupted: the previous index, if any, is still serving") from None
    finally:
        store.close()
    _print_index_report(report_obj.as_dict())


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def import_file(
    file: Annotated[
        Path, typer.Argument(help="The FAQ file: CSV, TSV, .xlsx, JSON, JSONL, HTML or Markdown.")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Convert: the JSONL file to write.")
    ] = None,
    to_service: Annotated[
        bool,
        typer.Option(
            "--to-service", help="Import into the running service's FAQ (merge; admin: needs ADMIN_API_KEY)."
        ),
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="With --to-service: the file replaces the FAQ (a reindex).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --to-service: only say what would change.")
    ] = False,
    url: UrlOption = None,
    data_format: FormatOption = None,
    faq: FaqOption = None,
) -> None:
    """Convert a FAQ file in any format the data readers take to the project's JSONL (--output),
    reporting what was read, skipped and why; or import it into the running FAQ (--to-service):
    merge adds what is new and changes what differs, --replace makes the file the FAQ, and
    --dry-run only reports the counts, warnings and errors by row. A file with a bad row is
    not imported at all."""
    from app.domain.entry import unique_entries
    from app.domain.formats import format_of_path
    from app.domain.records import load_faq

    if to_service == (output is not None):
        raise fail("give either --output FILE (convert) or --to-service (import into the running FAQ)")
    if not to_service and (replace or dry_run):
        raise fail("--replace and --dry-run go with --to-service")
    with known_errors():
        fmt = format_of_path(file, data_format)
        if to_service:
            live.import_to_service(file, fmt, replace=replace, dry_run=dry_run, url=url, faq=faq)
            return
        dataset = load_faq(file, skip_invalid=True, fmt=fmt)
    assert output is not None
    entries = unique_entries(dataset.entries)  # an exact duplicate would be the same entry
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    with partial.open("w", encoding="utf-8") as sink:
        for entry in entries:
            sink.write(json.dumps(entry.to_record(), ensure_ascii=False) + "\n")
    partial.replace(output)  # a failed write leaves no half file behind
    dropped = len(dataset.entries) - len(entries)
    console.print(
        f"read {dataset.rows_read} rows from {file} ({fmt}): wrote "
        f"{_count(len(entries), 'entry', 'entries')} to {output}, skipped {len(dataset.invalid)}"
        + (f", dropped {_count(dropped, 'exact duplicate')}" if dropped else ""),
        markup=False,
    )
    for row in dataset.invalid:
        console.print(f"  skipped {row.where}: {row.problem}", markup=False)
    for column in dataset.ignored_columns:
        console.print(f"  {column}", markup=False)


def check(
    file: Annotated[
        Path, typer.Argument(help="The FAQ file: CSV, TSV, .xlsx, JSON, JSONL, HTML or Markdown.")
    ],
    servable: Annotated[
        Path | None,
        typer.Option(
            help="Compare questions with this servable's question side (default: $FAQ_SERVABLE, "
            "else the base encoder)."
        ),
    ] = None,
    data_format: FormatOption = None,
) -> None:
    """List the entries of a data file that are very close to another one (similar wordings)
    and the questions that appear twice with different answers (conflicts), by row, with
    invalid rows. Warnings, not errors: exits 0 unless the file cannot be read."""
    from app.domain.formats import format_of_path
    from app.domain.records import read_file
    from app.search.duplicates import DUPLICATE_SIMILARITY, warnings_among
    from app.writes.faq_import import parse_rows

    with known_errors():
        fmt = format_of_path(file, data_format)
        parsed = parse_rows(read_file(file), fmt, str(file))
    rows, invalid = parsed.rows, parsed.invalid
    for column in parsed.ignored_columns:
        console.print(f"{file}: {column}", markup=False)
    for row in invalid:
        console.print(f"{row.where}: invalid: {row.problem}", markup=False)
    if not rows:
        raise fail(f"{file}: no valid FAQ entries")
    model = _checking_model(servable)
    entries = [entry for _, entry in rows]
    texts = [wording for entry in entries for wording in entry.wordings]
    encoded = model(texts)
    vectors, start = [], 0
    for entry in entries:
        vectors.append(encoded[start : start + len(entry.wordings)])
        start += len(entry.wordings)
    where = [w for w, _ in rows]
    warnings = warnings_among(entries, vectors, where, where)
    for warning in warnings:
        # the other entry is named by its row here: a file has no ids
        text = warning.message.replace("entry row", "row")
        console.print(text, markup=False)
    conflicts = sum(w.kind == "conflict" for w in warnings)
    similar = _count(len(warnings) - conflicts, "similar pair")
    console.print(
        f"{file}: {_count(len(entries), 'entry', 'entries')}, {similar} (similarity >= "
        f"{DUPLICATE_SIMILARITY}), {_count(conflicts, 'conflict')}, {_count(len(invalid), 'invalid row')}",
        markup=False,
    )


def _checking_model(servable: Path | None):
    """The question side's encoder: the servable's when there is one, else the base encoder."""
    from app.config import ModelSettings
    from app.encoding.servable import Servable
    from app.search.faq_search import unit_rows

    path = servable or ModelSettings().servable
    with known_errors():
        model = (
            Servable.load(path, device="cpu")
            if Path(path).exists()
            else Servable.from_base_model(device="cpu")
        )
    return lambda texts: unit_rows(model.encode_question_side(texts))


def migrate_store(
    path: Annotated[
        Path | None,
        from_environment("--path", "The embedded store's folder.", "QDRANT_PATH", "var/qdrant"),
    ] = None,
    remove_old: Annotated[
        bool,
        typer.Option(
            "--remove-old",
            help="Delete the earlier release's files once the Qdrant Edge copy exists (run it after "
            "checking the service on the copy; without it they are kept).",
        ),
    ] = False,
) -> None:
    """Copy the embedded store of an earlier release (qdrant-client's local mode) into Qdrant
    Edge, the embedded engine now: every collection (FAQ versions, live entries, feedback,
    unanswered questions, job records) with its vectors, payloads and metadata, and every alias;
    the copy is verified point by point before the service can open it. Stop the service first."""
    from app.config import StoreSettings
    from app.store.base import StoreError
    from app.store.migration import migrate_store as run_migration

    folder = path or settings_with(StoreSettings).embedded_path
    if folder is None:
        raise fail("QDRANT_URL is set: a Qdrant server needs no migration (unset it, or pass --path)")
    if not folder.exists():
        raise fail(f"{folder} does not exist: nothing to migrate")
    with console.status("copying") as status:
        try:
            report = run_migration(
                folder,
                remove_old=remove_old,
                progress=lambda name, count: status.update(f"copying {name}: {count} points"),
            )
        except StoreError as exc:
            raise fail(f"migration failed, the old store is untouched: {exc}") from None
    if report.already_migrated:
        console.print(f"{folder} already holds a Qdrant Edge store", markup=False)
    for name, count in report.collections.items():
        console.print(f"  {name}: {_count(count, 'point')} copied and verified", markup=False)
    for alias, collection in report.aliases.items():
        console.print(f"  alias {alias} -> {collection}", markup=False)
    if report.removed_old:
        console.print(f"removed the earlier release's files: {', '.join(report.old_files)}", markup=False)
    elif report.old_files:
        console.print(
            f"kept the earlier release's files ({', '.join(report.old_files)}); "
            "`faq migrate-store --remove-old` deletes them",
            markup=False,
        )
