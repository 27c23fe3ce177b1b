"""The first sheet of an Excel .xlsx workbook, read as rows of cell texts with bounded memory
and CPU whatever the file holds.

A workbook is a zip of XML parts, and a hostile one is cheap to make: a few hundred KB whose
shared strings unpack to gigabytes, a sheet that declares a million columns for one cell,
millions of empty rows, entity tricks in the XML. So this reader, rather than a general
spreadsheet library:

- refuses any part whose unpacked size is over MAX_PART_BYTES before reading a byte of it (the
  zip's directory gives the size, and the zip reader never yields more than it declares);
- parses each part with expat as a stream, refusing a document type declaration (so no
  entities, external or nested, are ever expanded);
- keeps the shared strings up to MAX_SHARED_CHARS characters, each cell up to MAX_CELL_CHARS;
- reads cells where they are (never pads to a declared dimension), refuses a cell past
  MAX_COLUMNS and a sheet of more than MAX_ROWS rows, empty ones counted.

Everything wrong with the file is a WorkbookError saying what.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from xml.parsers import expat

MAX_PART_BYTES = 64 * 1024 * 1024
MAX_SHARED_CHARS = 32 * 1024 * 1024
MAX_CELL_CHARS = 100_000
MAX_COLUMNS = 200
MAX_ROWS = 100_000
_CHUNK = 64 * 1024

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CELL_REF = re.compile(r"([A-Z]{1,3})(\d+)$")


class WorkbookError(ValueError):
    """The bytes are not a workbook this reader reads (the message says why)."""


def sheet_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    """(row number, cell texts by column) of the first sheet, rows that hold no cell left out."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise WorkbookError(f"not a zip archive ({exc})") from None
    with archive:
        for info in archive.infolist():
            if info.file_size > MAX_PART_BYTES:
                raise WorkbookError(
                    f"part '{info.filename}' unpacks to {info.file_size:,} bytes; "
                    f"the limit is {MAX_PART_BYTES:,}"
                )
        shared = _shared_strings(archive)
        yield from _sheet(archive, _first_sheet(archive), shared)


def _stream(
    archive: zipfile.ZipFile, name: str, start: Callable, end: Callable, text: Callable
) -> Iterator[None]:
    """Stream part `name` through expat with the three handlers (element names are
    "namespace name"), yielding after each chunk so a caller can hand on what was parsed."""
    parser = expat.ParserCreate(namespace_separator=" ")

    def no_doctype(*_: object) -> None:
        raise WorkbookError(f"part '{name}' declares a document type (entities are not read)")

    parser.StartDoctypeDeclHandler = no_doctype
    parser.EntityDeclHandler = no_doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.buffer_text = True
    try:
        with archive.open(name) as part:
            while chunk := part.read(_CHUNK):
                parser.Parse(chunk, False)
                yield
            parser.Parse(b"", True)
            yield
    except expat.ExpatError as exc:
        raise WorkbookError(f"part '{name}' is not well-formed XML ({expat.ErrorString(exc.code)})") from None
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise WorkbookError(f"part '{name}' cannot be unpacked ({exc})") from None
    except RecursionError:
        raise WorkbookError(f"part '{name}' is nested too deeply") from None


def _parse(archive: zipfile.ZipFile, name: str, start: Callable, end: Callable, text: Callable) -> None:
    for _ in _stream(archive, name, start, end, text):
        pass


def _has(archive: zipfile.ZipFile, name: str) -> bool:
    try:
        archive.getinfo(name)
    except KeyError:
        return False
    return True


def _first_sheet(archive: zipfile.ZipFile) -> str:
    """The part name of the workbook's first sheet, found through workbook.xml and its rels."""
    if not _has(archive, "xl/workbook.xml"):
        raise WorkbookError("no xl/workbook.xml (not an Excel .xlsx workbook)")
    first: list[str] = []
    targets: dict[str, str] = {}

    def sheet(name: str, attrs: dict[str, str]) -> None:
        if name == f"{_MAIN} sheet" and not first:
            first.append(attrs.get(f"{_DOC_RELS} id", ""))

    def relationship(name: str, attrs: dict[str, str]) -> None:
        if name == f"{_RELS} Relationship":
            targets[attrs.get("Id", "")] = attrs.get("Target", "")

    def ignore(*_: object) -> None:
        return None

    _parse(archive, "xl/workbook.xml", sheet, ignore, ignore)
    if not first:
        raise WorkbookError("the workbook has no sheet")
    if _has(archive, "xl/_rels/workbook.xml.rels"):
        _parse(archive, "xl/_rels/workbook.xml.rels", relationship, ignore, ignore)
    target = targets.get(first[0], "")
    if not target:
        # A workbook written without relationships still names its first sheet this way.
        target = "worksheets/sheet1.xml"
    part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
    if not _has(archive, part):
        raise WorkbookError(f"the first sheet's part '{part}' is missing")
    return part


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    if not _has(archive, "xl/sharedStrings.xml"):
        return []
    strings: list[str] = []
    current: list[str] = []
    state = {"in_text": False, "skip": 0, "chars": 0, "length": 0}

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == f"{_MAIN} si":
            current.clear()
            state["length"] = 0
        elif name in (f"{_MAIN} rPh", f"{_MAIN} phoneticPr"):
            state["skip"] += 1  # phonetic guides repeat the text in another script
        elif name == f"{_MAIN} t" and not state["skip"]:
            state["in_text"] = True

    def end(name: str) -> None:
        if name == f"{_MAIN} si":
            strings.append("".join(current))
        elif name in (f"{_MAIN} rPh", f"{_MAIN} phoneticPr"):
            state["skip"] -= 1
        elif name == f"{_MAIN} t":
            state["in_text"] = False

    def text(data: str) -> None:
        if not state["in_text"]:
            return
        state["chars"] += len(data)
        state["length"] += len(data)
        if state["chars"] > MAX_SHARED_CHARS:
            raise WorkbookError(f"the shared strings hold over {MAX_SHARED_CHARS:,} characters")
        if state["length"] > MAX_CELL_CHARS:
            raise WorkbookError(f"shared string {len(strings) + 1} is over {MAX_CELL_CHARS:,} characters")
        current.append(data)

    _parse(archive, "xl/sharedStrings.xml", start, end, text)
    return strings


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + (ord(letter) - ord("A") + 1)
    return index - 1


def _number_text(value: str) -> str:
    """A number as the owner typed it: a spreadsheet stores 3 as "3" or "3.0"."""
    try:
        number = float(value)
    except ValueError:
        return value
    if number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    return value


class _SheetReader:
    """Expat handlers that turn a sheet's XML into finished rows (`done`)."""

    def __init__(self, shared: list[str]):
        self.shared = shared
        self.done: list[tuple[int, list[str]]] = []
        self.rows_seen = 0
        self.row_number = 0
        self.cells: dict[int, str] = {}
        self.column = -1
        self.kind = ""
        self.value: list[str] = []
        self.length = 0
        self.capture = False
        self.in_inline = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name == f"{_MAIN} row":
            self.rows_seen += 1
            if self.rows_seen > MAX_ROWS:
                raise WorkbookError(f"the sheet has over {MAX_ROWS:,} rows")
            number = attrs.get("r", "")
            self.row_number = int(number) if number.isdigit() else self.row_number + 1
            self.cells = {}
            self.column = -1
        elif name == f"{_MAIN} c":
            match = _CELL_REF.match(attrs.get("r", ""))
            self.column = _column_index(match.group(1)) if match else self.column + 1
            if self.column >= MAX_COLUMNS:
                raise WorkbookError(
                    f"cell {attrs.get('r', '?')} is past column {MAX_COLUMNS} (a FAQ sheet has a few columns)"
                )
            self.kind = attrs.get("t", "n")
            self.value = []
            self.length = 0
        elif name == f"{_MAIN} v" or (name == f"{_MAIN} t" and self.in_inline):
            self.capture = True
        elif name == f"{_MAIN} is":
            self.in_inline = True

    def end(self, name: str) -> None:
        if name == f"{_MAIN} v" or name == f"{_MAIN} t":
            self.capture = False
        elif name == f"{_MAIN} is":
            self.in_inline = False
        elif name == f"{_MAIN} c":
            text = self._cell()
            if text:
                self.cells[self.column] = text
        elif name == f"{_MAIN} row":
            if self.cells:
                width = max(self.cells) + 1
                self.done.append((self.row_number, [self.cells.get(i, "") for i in range(width)]))

    def text(self, data: str) -> None:
        if not self.capture:
            return
        self.length += len(data)
        if self.length > MAX_CELL_CHARS:
            raise WorkbookError(f"a cell in row {self.row_number} is over {MAX_CELL_CHARS:,} characters")
        self.value.append(data)

    def _cell(self) -> str:
        raw = "".join(self.value)
        if self.kind == "s":
            try:
                return self.shared[int(raw)]
            except (ValueError, IndexError):
                raise WorkbookError(
                    f"a cell in row {self.row_number} names shared string {raw!r}, "
                    f"which the workbook does not have"
                ) from None
        if self.kind == "b":
            return "TRUE" if raw.strip() == "1" else "FALSE"
        if self.kind == "n":
            return _number_text(raw.strip())
        return raw  # inlineStr, str (a formula's text), e (an error such as #N/A), d (a date)


def _sheet(archive: zipfile.ZipFile, part: str, shared: list[str]) -> Iterator[tuple[int, list[str]]]:
    """Rows as the parser finishes them, a chunk of XML at a time: the sheet is never held whole."""
    reader = _SheetReader(shared)
    for _ in _stream(archive, part, reader.start, reader.end, reader.text):
        yield from reader.done
        reader.done.clear()
