"""What the FAQ studies (decision_study, lexical_study) read: one FAQ, a servable or the base
encoder as `faq train` would serve it, real wordings and unanswerable questions."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.encoding.servable import Servable
from app.search.settings import BASE_SEARCH, SearchSettings


def study_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--servable", type=Path, help="default: the base encoder as `faq train` serves it")
    parser.add_argument("--paraphrases", type=Path, nargs="+", required=True)
    parser.add_argument("--out-of-domain", type=Path, required=True)
    return parser


def study_servable(path: Path | None, runtime: str = "auto") -> tuple[Servable, SearchSettings]:
    """The servable at `path` with its own search settings, or the base encoder with the
    settings `faq train` gives it."""
    if path is None:
        return Servable.from_base_model(device="cpu"), BASE_SEARCH
    servable = Servable.load(path, device="cpu", runtime=runtime)
    return servable, SearchSettings.from_record(servable.meta.search)
