"""The files teams keep their FAQ in, read as rows of records: CSV and TSV, Excel (.xlsx),
JSON, JSONL, HTML pages and Markdown.

Every reader turns its file into `Row`s (where the row is, in the file's own terms, and either a
record or the problem that made it unreadable); `app.domain.records` then turns the records
into entries with one set of field checks, so a CSV row and a JSON line are held to the same
rules and their errors read alike ("faq.csv, row 7: field 'answer' must not be empty").
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

from app.domain.entry import DataError
from app.domain.workbook import WorkbookError, sheet_rows

FORMATS = ("jsonl", "json", "csv", "tsv", "xlsx", "html", "markdown")

_EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".xlsx": "xlsx",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
}
_CONTENT_TYPES = {
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/json": "json",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
}
# Column names a spreadsheet may use for each field, as owners write them: compared after
# `column_key` (case, spacing, "_" and "-" and a trailing "?" or ":" do not matter).
_COLUMN_ALIASES = {
    "question": "question",
    "questions": "question",
    "answer": "answer",
    "answers": "answer",
    "source": "source",
    "category": "source",
    "categories": "source",
    "topic": "source",
    "section": "source",
    "filename": "filename",
    "file name": "filename",
    "page": "filename",
    "url": "filename",
    # a test set's columns (app.search.faq_tests)
    "expected id": "expected_id",
    "expected question": "expected_question",
    "expected": "expected_question",
}
# Columns holding alternate wordings of the question: any number of them ("alternate",
# "Alternate questions", "alternative question 2", "Other wordings", "synonyms"...), each cell
# one wording or several split on "|".
_ALTERNATE_COLUMN = re.compile(
    r"^(alternates?|alternatives?|(alternate|alternative|other|similar) (questions?|wordings?|phrasings?)"
    r"|wordings?|synonyms?|variants?|paraphrases?)( ?\d+)?$"
)
# Columns naming the entries offered after the answer ("Follow-up questions", "follow up 2",
# "related questions"...): each cell one entry's question or id, or several split on "|".
_FOLLOW_UP_COLUMN = re.compile(
    r"^(follow ?ups?|follow ?up (questions?|prompts?)|related questions?|next questions?)( ?\d+)?$"
)


def column_key(name: object) -> str:
    """A header cell as compared with the known names: lower case, "_" and "-" as spaces, runs
    of spaces as one, a trailing "?", ":" or "*" dropped ("Alternate_Questions:" reads as
    "alternate questions")."""
    key = re.sub(r"[\s_\-]+", " ", str(name or "")).strip().lower()
    return re.sub(r"\s*[?:*]+$", "", key)


class Rows(list):
    """A file's rows (a list of `Row`), and the columns of its header that were not read
    (spreadsheets only), as "column 'Notes' ignored" messages."""

    ignored: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    """One record of a file: `where` is "line 3", "row 7", "entry 2"...; `problem` is set when
    the row could not be read as a record at all (invalid JSON, say)."""

    where: str
    record: dict
    problem: str = ""


def normalise_format(name: str) -> str:
    """A format name as given by a user (`--format CSV`, `?format=md`), or DataError."""
    key = name.strip().lower()
    key = {"md": "markdown", "htm": "html", "ndjson": "jsonl", "excel": "xlsx", "tab": "tsv"}.get(key, key)
    if key not in FORMATS:
        raise DataError(f"unknown format '{name}': use one of {', '.join(FORMATS)}")
    return key


def format_of_path(path: str | os.PathLike[str], explicit: str | None = None) -> str:
    """The format of a file: `explicit` when given, else its extension; JSONL (the project's
    own format) when the extension says nothing."""
    if explicit:
        return normalise_format(explicit)
    return _EXTENSIONS.get(PurePath(path).suffix.lower(), "jsonl")


def format_of_content_type(content_type: str | None, explicit: str | None = None) -> str:
    """The format of an upload: `explicit` (`?format=`) when given, else its Content-Type;
    JSONL when the type says nothing (text/plain, application/octet-stream, none)."""
    if explicit:
        return normalise_format(explicit)
    media_type = (content_type or "").split(";")[0].strip().lower()
    return _CONTENT_TYPES.get(media_type, "jsonl")


FAQ_COLUMNS = ("question", "answer")


def read_rows(data: bytes, fmt: str, origin: str, required: tuple[str, ...] = FAQ_COLUMNS) -> Rows:
    """The rows of a file's bytes in format `fmt`; a file that cannot be read at all (not
    UTF-8, not a workbook, no header; a spreadsheet without the `required` columns) is a
    DataError naming `origin`. A spreadsheet's columns that are not read are in `.ignored`."""
    ignored: list[str] = []  # the spreadsheet readers name the columns they do not read
    if fmt == "xlsx":
        rows = Rows(_xlsx_rows(data, origin, required, ignored))
    else:
        text = _decode(data, origin)
        if fmt == "jsonl":
            rows = Rows(_jsonl_rows(text))
        elif fmt == "json":
            rows = Rows(_json_rows(text, origin))
        elif fmt in ("csv", "tsv"):
            rows = Rows(_csv_rows(text, origin, "\t" if fmt == "tsv" else None, required, ignored))
        elif fmt == "html":
            rows = Rows(_html_rows(text, origin))
        elif fmt == "markdown":
            rows = Rows(_markdown_rows(text, origin))
        else:
            raise DataError(f"{origin}: unknown format '{fmt}'")
    rows.ignored = tuple(ignored)
    return rows


def _decode(data: bytes, origin: str) -> str:
    try:
        # utf-8-sig: spreadsheet programs put a byte-order mark in front of the CSV they save.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{origin}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def parse_json_object(text: str) -> dict:
    """One JSON object, or ValueError saying what is wrong with the text."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ValueError("invalid JSON (nested too deeply)") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise ValueError(f"invalid JSON ({exc})") from None
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    return record


def _jsonl_rows(text: str) -> Iterator[Row]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue  # blank lines (a trailing newline, say) carry no record
        try:
            yield Row(f"line {number}", parse_json_object(line))
        except ValueError as exc:
            yield Row(f"line {number}", {}, str(exc))


def _json_rows(text: str, origin: str) -> Iterator[Row]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{origin}, line {exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})"
        ) from None
    except RecursionError:
        raise DataError(f"{origin}: invalid JSON (nested too deeply)") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise DataError(f"{origin}: invalid JSON ({exc})") from None
    if isinstance(document, dict) and isinstance(document.get("entries"), list):
        document = document["entries"]
    if not isinstance(document, list):
        raise DataError(f'{origin}: expected a JSON array of entries or {{"entries": [...]}}')
    for number, item in enumerate(document, start=1):
        if isinstance(item, dict):
            yield Row(f"entry {number}", item)
        else:
            yield Row(f"entry {number}", {}, f"expected a JSON object, got {type(item).__name__}")


def _columns(
    header: list[str],
    origin: str,
    required: tuple[str, ...] = FAQ_COLUMNS,
    ignored: list[str] | None = None,
) -> dict[int, str]:
    """Column index -> field name for a header row, which must have the `required` fields;
    the columns not read are added to `ignored` ("column 'Notes' ignored")."""
    columns: dict[int, str] = {}
    skipped: list[str] = []
    for index, name in enumerate(header):
        shown = str(name or "").strip()
        key = column_key(name)
        if not key:
            continue  # an unnamed column (a spreadsheet's empty header cell) is nobody's data
        if _ALTERNATE_COLUMN.match(key):
            columns[index] = "alternates"  # every such column adds wordings
            continue
        if _FOLLOW_UP_COLUMN.match(key):
            columns[index] = "follow_ups"  # every such column adds follow-ups
            continue
        field = _COLUMN_ALIASES.get(key)
        if field and field not in columns.values():  # the first of two aliases wins
            columns[index] = field
        elif field:
            skipped.append(
                f"column '{shown}' ignored (column '{_field_column(header, columns, field)}' is the {field})"
            )
        else:
            skipped.append(f"column '{shown}' ignored")
    missing = [name for name in required if name not in columns.values()]
    if missing:
        found = ", ".join(repr(str(h).strip()) for h in header if str(h or "").strip()) or "none"
        raise DataError(
            f"{origin}, row 1: the header has no {' or '.join(repr(m) for m in missing)} column "
            f"(columns found: {found}; expected question, answer and optionally source or "
            "category, filename, page or url, alternate wordings in alternate columns, and "
            "follow-up questions)"
        )
    if ignored is not None:
        ignored.extend(skipped)
    return columns


def _field_column(header: list[str], columns: dict[int, str], field: str) -> str:
    return next(str(header[i]).strip() for i, f in columns.items() if f == field)


def _record(cells: list, columns: dict[int, str]) -> dict:
    record: dict = {}
    several: dict[str, list[str]] = {"alternates": [], "follow_ups": []}
    for index, field in columns.items():
        text = _cell_text(cells[index]) if index < len(cells) else ""
        if field in several:
            several[field].extend(text.split("|"))
        else:
            record[field] = text
    record.update({field: values for field, values in several.items() if any(v.strip() for v in values)})
    return record


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a spreadsheet's 3 is 3.0 once read: show it as the owner typed it
    return str(value)


def _csv_rows(
    text: str,
    origin: str,
    delimiter: str | None,
    required: tuple[str, ...] = FAQ_COLUMNS,
    ignored: list[str] | None = None,
) -> Iterator[Row]:
    if delimiter is None:
        first_line = text.split("\n", 1)[0]
        try:
            delimiter = csv.Sniffer().sniff(first_line, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            raise DataError(f"{origin}: empty file (expected a header row: question, answer, ...)")
        columns = _columns(header, origin, required, ignored)
        # Rows are numbered as a spreadsheet shows them: the header is row 1.
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            yield Row(f"row {number}", _record(cells, columns))
    except csv.Error as exc:
        raise DataError(f"{origin}, line {reader.line_num}: not valid CSV ({exc})") from None


def _xlsx_rows(
    data: bytes, origin: str, required: tuple[str, ...] = FAQ_COLUMNS, ignored: list[str] | None = None
) -> Iterator[Row]:
    rows = sheet_rows(data)
    try:
        first = next(rows, None)
        if first is None:
            raise DataError(f"{origin}: the first sheet is empty (expected a header row)")
        _, header = first
        columns = _columns(header, origin, required, ignored)
        for number, cells in rows:
            if any(cell.strip() for cell in cells):
                yield Row(f"row {number}", _record(cells, columns))
    except WorkbookError as exc:
        raise DataError(f"{origin}: not an Excel .xlsx workbook this service reads ({exc})") from None


# ---------------------------------------------------------------------------------- HTML ---

_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Page furniture whose text is never an answer.
_NOT_CONTENT = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form")


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _html_text(fragment: str) -> str:
    """The visible text of an HTML fragment (JSON-LD answers may carry markup)."""
    from bs4 import BeautifulSoup

    return _squash(BeautifulSoup(fragment, "html.parser").get_text(" "))


def _html_rows(text: str, origin: str) -> list[Row]:
    """A FAQ page's entries, by the first structure it has: schema.org FAQPage (JSON-LD, then
    microdata), then <details><summary>, then <dl>, then headings followed by their text."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    title = _squash(soup.title.get_text()) if soup.title else ""
    for reader in (_json_ld_rows, _microdata_rows, _details_rows, _definition_rows):
        rows = reader(soup)
        if rows:
            return [_with_default(row, "source", title) for row in rows]
    for tag in soup.find_all(_NOT_CONTENT):
        tag.decompose()
    sections: list[tuple[int, str, list[str]]] = []  # (level, heading text, text under it)
    from bs4 import NavigableString, Tag

    for node in soup.descendants:
        if isinstance(node, Tag) and node.name in _HEADINGS:
            sections.append((int(node.name[1]), _squash(node.get_text(" ")), []))
        elif isinstance(node, NavigableString) and sections:
            if node.find_parent(_HEADINGS) is not None or type(node) is not NavigableString:
                continue  # heading text is counted above; comments and doctypes are not text
            sections[-1][2].append(str(node))
    rows = _heading_rows(
        [(level, heading, _squash(" ".join(parts)), "") for level, heading, parts in sections]
    )
    if not rows:
        raise DataError(
            f"{origin}: no FAQ found (looked for schema.org FAQPage, <details><summary>, <dl> "
            "and headings followed by text)"
        )
    return [_with_default(row, "source", title) for row in rows]


def _with_default(row: Row, name: str, value: str) -> Row:
    if not value or row.record.get(name):
        return row
    return Row(row.where, {**row.record, name: value}, row.problem)


def _json_ld_rows(soup) -> list[Row]:
    rows: list[Row] = []
    for script in soup.find_all("script", attrs={"type": "application/ld+json"}):
        try:
            document = json.loads(script.string or "")
        except (json.JSONDecodeError, RecursionError):
            continue  # a page's other structured data may be broken; the FAQ may be elsewhere
        for page in _json_ld_nodes(document):
            if "FAQPage" not in _types(page):
                continue
            questions = page.get("mainEntity") or []
            for item in questions if isinstance(questions, list) else [questions]:
                if not isinstance(item, dict):
                    continue
                answer = item.get("acceptedAnswer") or item.get("suggestedAnswer") or {}
                if isinstance(answer, list):
                    answer = answer[0] if answer else {}
                answer_text = answer.get("text", "") if isinstance(answer, dict) else ""
                question = item.get("name") or item.get("text") or ""
                rows.append(
                    Row(
                        f"FAQPage question {len(rows) + 1}",
                        {"question": _html_text(str(question)), "answer": _html_text(str(answer_text))},
                    )
                )
    return rows


def _json_ld_nodes(document: object) -> Iterator[dict]:
    if isinstance(document, list):
        for item in document:
            yield from _json_ld_nodes(item)
    elif isinstance(document, dict):
        yield document
        if isinstance(document.get("@graph"), list):
            yield from _json_ld_nodes(document["@graph"])


def _types(node: dict) -> list[str]:
    kind = node.get("@type", [])
    return [str(k) for k in (kind if isinstance(kind, list) else [kind])]


def _microdata_rows(soup) -> list[Row]:
    rows: list[Row] = []
    for item in soup.find_all(attrs={"itemtype": re.compile(r"schema\.org/Question$")}):
        name = item.find(attrs={"itemprop": "name"})
        answer = item.find(attrs={"itemprop": "acceptedAnswer"}) or item.find(
            attrs={"itemprop": "suggestedAnswer"}
        )
        text = answer.find(attrs={"itemprop": "text"}) if answer else None
        rows.append(
            Row(
                f"microdata question {len(rows) + 1}",
                {
                    "question": _squash(name.get_text(" ")) if name else "",
                    "answer": _squash(text.get_text(" ")) if text else "",
                },
            )
        )
    return rows


def _details_rows(soup) -> list[Row]:
    rows: list[Row] = []
    for details in soup.find_all("details"):
        summary = details.find("summary")
        if summary is None:
            continue
        question = _squash(summary.get_text(" "))
        summary.extract()
        rows.append(
            Row(
                f"<details> {len(rows) + 1}", {"question": question, "answer": _squash(details.get_text(" "))}
            )
        )
    return rows


def _definition_rows(soup) -> list[Row]:
    rows: list[Row] = []
    for term in soup.find_all("dt"):
        answers = []
        for sibling in term.find_next_siblings():
            if sibling.name != "dd":
                break
            answers.append(_squash(sibling.get_text(" ")))
        rows.append(
            Row(
                f"<dt> {len(rows) + 1}",
                {"question": _squash(term.get_text(" ")), "answer": " ".join(answers)},
            )
        )
    return rows


def _heading_rows(sections: list[tuple[int, str, str, str]]) -> list[Row]:
    """Entries from (level, heading, text under it, where) sections: the deepest heading level
    that has text under it holds the questions; the nearest heading above one is its source
    (a page's "Borrowing" section over "How many books can I borrow?")."""
    with_text = [level for level, _, body, _ in sections if body]
    if not with_text:
        return []
    question_level = max(with_text)
    rows: list[Row] = []
    parents: dict[int, str] = {}
    for index, (level, heading, body, where) in enumerate(sections):
        if level < question_level:
            parents = {k: v for k, v in parents.items() if k < level}
            parents[level] = heading
            continue
        if level > question_level:
            continue
        source = parents[max(parents)] if parents else ""
        rows.append(
            Row(where or f"heading {index + 1}", {"question": heading, "answer": body, "source": source})
        )
    return rows


# ------------------------------------------------------------------------------ Markdown ---


def _markdown_rows(text: str, origin: str) -> list[Row]:
    from markdown_it import MarkdownIt

    lines = text.splitlines()
    tokens = MarkdownIt("commonmark").parse(text)
    headings: list[tuple[int, str, int, int]] = []  # (level, text, first line, line after it)
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            inline = tokens[index + 1]
            headings.append((int(token.tag[1]), _squash(inline.content), token.map[0], token.map[1]))
    sections = []
    for number, (level, heading, start, body_start) in enumerate(headings):
        body_end = headings[number + 1][2] if number + 1 < len(headings) else len(lines)
        # The answer is the Markdown under the heading as written: lists and links read fine.
        body = "\n".join(lines[body_start:body_end]).strip()
        sections.append((level, heading, body, f"line {start + 1}"))
    rows = _heading_rows(sections)
    if not rows:
        raise DataError(f"{origin}: no FAQ found (expected headings, each followed by its answer)")
    return rows
