"""The front door and the documentation site: the README stays a front door, the docs speak
to their reader (no issue numbers, no "this session"), and every page is in the site's nav."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"


def test_the_readme_is_a_front_door_that_links_into_the_docs():
    readme = (REPO_ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 12 * 1024
    for command in ("make install", "make demo", "make test", "faq train", "faq index", "faq serve"):
        assert command in readme, command
    for target in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (REPO_ROOT / target).exists(), target


def test_every_page_is_in_the_nav_and_says_nothing_of_issues_or_sessions():
    config = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text())
    in_nav = {next(iter(item.values())) for item in config["nav"]}
    pages = {p.name for p in DOCS.glob("*.md")}
    assert pages == in_nav
    for page in DOCS.glob("*.md"):
        text = page.read_text()
        assert not re.search(r"\bissues? \d+|this session", text, re.IGNORECASE), page.name
