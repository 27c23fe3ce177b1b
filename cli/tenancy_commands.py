"""`faq faqs` and `faq keys`: the FAQs of a running service and the keys of each, through its
API (/admin/faqs with the service key; /faqs/NAME/admin/keys with the service key or the FAQ's
owner key, sent as ADMIN_API_KEY)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from cli.common import FaqOption, UrlOption, console, fail, settings_with
from cli.live import call_service

faqs_app = typer.Typer(
    help="Create, list and delete the FAQs of the running service (needs the service key, ADMIN_API_KEY).",
    no_args_is_help=True,
)
keys_app = typer.Typer(
    help="Create, list and revoke a FAQ's keys: owner (its admin routes) or public (ask and feedback).",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(help="The FAQ's name: 1-64 lowercase letters, digits or '-'.")]
JsonOption = Annotated[bool, typer.Option("--json", help="The answer as JSON.")]


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M") if stamp else "-"


def _checked_name(name: str) -> str:
    from app.domain.faq_names import BadFaqName, check_faq_name

    try:
        return check_faq_name(name)
    except BadFaqName as exc:
        raise fail(f"{name!r}: {exc}") from None


@faqs_app.command("create")
def create_faq(
    name: NameArgument,
    closed: Annotated[
        bool, typer.Option("--closed", help="Asked only with one of its keys (default: anyone may ask).")
    ] = False,
    url: UrlOption = None,
) -> None:
    """Create an empty FAQ; then `faq import FILE --to-service --replace --faq NAME` fills it."""
    created = call_service(
        "POST",
        url,
        None,
        "/admin/faqs",
        json={"name": _checked_name(name), "open": not closed},
        expected=(201,),
    ).json()
    console.print(f"created the FAQ {created['name']}: ask it at {created['asker_page']}", markup=False)


@faqs_app.command("list")
def list_faqs(url: UrlOption = None, as_json: JsonOption = False) -> None:
    """Every FAQ of the service with its number of entries."""
    listed: list[dict] = []
    after: str | None = ""
    while after is not None:  # a page at a time, as the service hands them out
        page = call_service("GET", url, None, "/admin/faqs", params={"after": after, "limit": 1000}).json()
        listed += page["faqs"]
        after = page["next_after"]
    if as_json:
        typer.echo(json.dumps(listed, indent=2))
        return
    table = Table(title=f"{len(listed)} FAQs")
    for column in ("name", "entries", "askers", "created", "page"):
        table.add_column(column, overflow="fold")
    for faq in listed:
        name = f"{faq['name']} (default)" if faq["default"] else faq["name"]
        askers = "anyone" if faq["open"] else "with a key"
        table.add_row(name, str(faq["entries"]), askers, _when(faq["created"]), faq["asker_page"])
    console.print(table)


@faqs_app.command("delete")
def delete_faq(
    name: NameArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    url: UrlOption = None,
) -> None:
    """Delete a FAQ and everything of it (entries, versions, logs, feedback, keys). Not undone."""
    name = _checked_name(name)
    if not yes and not typer.confirm(f"delete the FAQ {name} and everything of it?"):
        raise fail("not deleted")
    done = call_service("DELETE", url, None, f"/admin/faqs/{name}").json()
    console.print(
        f"deleted the FAQ {name}: {done['collections_dropped']} collections, {done['keys_revoked']} keys",
        markup=False,
    )


def _faq_of(faq: str | None) -> str | None:
    from app.config import FaqChoice

    return settings_with(FaqChoice, FAQ_NAME=faq).faq_name


@keys_app.command("create")
def create_key(
    scope: Annotated[str, typer.Option("--scope", help="owner or public.")] = "owner",
    label: Annotated[str, typer.Option("--label", help="What the key is for (shown in lists).")] = "",
    faq: FaqOption = None,
    url: UrlOption = None,
) -> None:
    """Create a key of the FAQ and print it: it is shown this once (the service keeps a hash)."""
    if scope not in ("owner", "public"):
        raise fail(f"--scope is owner or public, not {scope!r}")
    made = call_service(
        "POST", url, _faq_of(faq), "/admin/keys", json={"scope": scope, "label": label}, expected=(201,)
    ).json()
    typer.echo(made["key"])
    typer.echo(f"a {scope} key of {made['faq']} ({made['prefix']}): keep it, it is not shown again", err=True)


@keys_app.command("list")
def list_keys(faq: FaqOption = None, url: UrlOption = None, as_json: JsonOption = False) -> None:
    """The FAQ's keys, by prefix (never the keys themselves)."""
    listed = call_service("GET", url, _faq_of(faq), "/admin/keys").json()["keys"]
    if as_json:
        typer.echo(json.dumps(listed, indent=2))
        return
    table = Table(title=f"{len(listed)} keys")
    for column in ("prefix", "scope", "label", "created"):
        table.add_column(column, overflow="fold")
    for key in listed:
        table.add_row(key["prefix"], key["scope"], key["label"], _when(key["created"]))
    console.print(table)


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key's prefix (fk_...) or id, as `faq keys list` shows.")],
    faq: FaqOption = None,
    url: UrlOption = None,
) -> None:
    """Revoke a key of the FAQ: refused at once by this service (within seconds by its replicas)."""
    done = call_service("DELETE", url, _faq_of(faq), f"/admin/keys/{key_id}").json()
    console.print(f"revoked {done['prefix']} ({done['scope']} key of {done['faq']})", markup=False)
