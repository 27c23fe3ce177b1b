"""The workbook reader against the hostile .xlsx files that broke (or stalled) the service:
each is refused with a WorkbookError, or read, with bounded CPU and memory."""

from __future__ import annotations

import io
import resource
import zipfile

import pytest

from app.domain import workbook
from app.domain.entry import DataError
from app.domain.formats import read_rows
from app.domain.workbook import WorkbookError, sheet_rows

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
WORKBOOK = (
    f'<workbook {NS} xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="FAQ" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
RELS = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
HEADER_ROW = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>question</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>answer</t></is></c></row>'
)


def book(sheet_data: str, shared: str | bytes | None = None, dimension: str = "A1:B2") -> bytes:
    """A workbook written by hand, as a hostile client would."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", RELS)
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet {NS}><dimension ref="{dimension}"/><sheetData>{sheet_data}</sheetData></worksheet>',
        )
        if shared is not None:
            archive.writestr("xl/sharedStrings.xml", shared)
    return buffer.getvalue()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def test_a_hand_written_workbook_reads_shared_inline_and_number_cells():
    rich = "<r><t>Online, </t></r><r><t>or by phone.</t></r>"
    shared = f"<sst {NS}><si><t>How do I renew?</t></si><si>{rich}</si></sst>"
    rows = list(
        sheet_rows(
            book(
                HEADER_ROW + '<row r="3"><c r="A3" t="s"><v>0</v></c><c r="B3" t="s"><v>1</v></c>'
                '<c r="D3"><v>3.0</v></c></row>',
                shared,
            )
        )
    )
    assert rows == [(1, ["question", "answer"]), (3, ["How do I renew?", "Online, or by phone.", "", "3"])]


@pytest.mark.parametrize(
    ("sheet", "shared", "problem"),
    [
        # truncated sheet XML
        (HEADER_ROW + '<row r="2"><c r="A2" t="inlineStr"><is><t>cut', None, "not well-formed"),
        # a shared-string index out of range
        (
            HEADER_ROW + '<row r="2"><c r="A2" t="s"><v>7</v></c></row>',
            f"<sst {NS}><si><t>a</t></si></sst>",
            "shared string '7'",
        ),
        # a cell past the columns a FAQ has
        ('<row r="1"><c r="XFD1" t="inlineStr"><is><t>x</t></is></c></row>', None, "past column"),
    ],
)
def test_broken_sheets_are_refused_saying_why(sheet, shared, problem):
    with pytest.raises(WorkbookError, match=problem):
        list(sheet_rows(book(sheet, shared)))


def test_entities_external_or_nested_are_never_expanded():
    external = (
        '<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f"<sst {NS}><si><t>&x;</t></si></sst>"
    )
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">' for n in range(9))
        + f"]><sst {NS}><si><t>&j;</t></si></sst>"
    )
    undefined = f"<sst {NS}><si><t>&nothing;</t></si></sst>"
    for shared in (external, laughs):
        with pytest.raises(WorkbookError, match="declares a document type"):
            list(sheet_rows(book(HEADER_ROW, shared)))
    with pytest.raises(WorkbookError, match="not well-formed"):
        list(sheet_rows(book(HEADER_ROW, undefined)))


def test_a_zip_bomb_is_refused_before_it_is_unpacked():
    # 100 MB of shared strings that pack to about 100 KB
    bomb = (f"<sst {NS}><si><t>" + "a" * (100 * 1024 * 1024) + "</t></si></sst>").encode()
    data = book(HEADER_ROW, bomb)
    assert len(data) < 1024 * 1024
    before_cpu = cpu_seconds()
    before_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(WorkbookError, match="unpacks to"):
        list(sheet_rows(data))
    assert cpu_seconds() - before_cpu < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_rss < 50 * 1024  # KB


def test_shared_strings_and_cells_are_bounded_while_read(monkeypatch):
    monkeypatch.setattr(workbook, "MAX_SHARED_CHARS", 1000)
    many = f"<sst {NS}>" + "<si><t>abcdefghij</t></si>" * 200 + "</sst>"
    with pytest.raises(WorkbookError, match="over 1,000 characters"):
        list(sheet_rows(book(HEADER_ROW, many)))
    long_cell = (
        HEADER_ROW + '<row r="2"><c r="A2" t="inlineStr"><is><t>' + "x" * 100_001 + "</t></is></c></row>"
    )
    with pytest.raises(WorkbookError, match="over 100,000 characters"):
        list(sheet_rows(book(long_cell)))


def test_a_declared_dimension_is_never_padded_and_empty_rows_are_capped():
    # one cell in a sheet that declares 16,384 columns by 1,048,576 rows: read at once
    before = cpu_seconds()
    rows = list(sheet_rows(book(HEADER_ROW, dimension="A1:XFD1048576")))
    assert rows == [(1, ["question", "answer"])]
    # 100,001 empty rows: refused, not walked for a minute
    empty = HEADER_ROW + "".join(f'<row r="{n}"/>' for n in range(2, 100_003))
    with pytest.raises(WorkbookError, match="over 100,000 rows"):
        list(sheet_rows(book(empty)))
    assert cpu_seconds() - before < 5.0


def test_the_file_reader_names_the_workbook_problem():
    with pytest.raises(DataError, match=r"faq.xlsx: not an Excel .xlsx workbook.*not well-formed"):
        list(read_rows(book(HEADER_ROW + "<row"), "xlsx", "faq.xlsx"))
    with pytest.raises(DataError, match="not an Excel .xlsx workbook.*not a zip"):
        list(read_rows(b"PK\x03\x04 not really", "xlsx", "faq.xlsx"))
