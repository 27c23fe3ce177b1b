"""The `faq` command: train, evaluate, index, serve and ask; and, through a running service,
entries, export, feedback and unanswered. One module a group of commands: model_commands
(train, evaluate, export-onnx), data_commands (index, import, check, migrate-store),
serving_commands (serve, ask, bench), live (what goes through a running service) and
tenancy_commands (the service's FAQs and their keys).

Defaults that the environment can set (FAQ_SERVABLE, FAQ_COLLECTION, DEVICE, FAQ_DATA, FAQ_URL,
ADMIN_API_KEY) come from the settings classes in `app.config`; a flag overrides them.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from cli import data_commands, live, model_commands, serving_commands, tenancy_commands

app = typer.Typer(
    name="faq",
    help="FAQ question answering with metric learning: train an encoder with Quaterion, "
    "index FAQ entries in Qdrant, and answer questions over HTTP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _setup_logging(verbose: bool) -> None:
    from app.api.observability import RequestIdFilter

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        # the request id: set while the service handles a request, "-" elsewhere
        format="%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RequestIdFilter())
    for noisy in ("httpx", "urllib3", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    _setup_logging(verbose)


app.command()(model_commands.train)
app.command()(model_commands.evaluate)
app.command("export-onnx")(model_commands.export_onnx)
app.command()(data_commands.index)
app.command("import")(data_commands.import_file)
app.command()(data_commands.check)
app.command("migrate-store")(data_commands.migrate_store)
app.command()(serving_commands.serve)
app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)(serving_commands.bench)
app.command()(serving_commands.ask)
app.add_typer(live.entries_app, name="entries")
app.add_typer(live.feedback_app, name="feedback")
app.add_typer(tenancy_commands.faqs_app, name="faqs")
app.add_typer(tenancy_commands.keys_app, name="keys")
app.command("export")(live.export)
app.command("unanswered")(live.unanswered)
app.command("review")(live.review)
app.command("test")(live.test_set)
if __name__ == "__main__":
    app()
