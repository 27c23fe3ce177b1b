"""Every file format a team keeps its FAQ in, read into the same entries, with errors that name
the file, the row and the field."""

import json
from pathlib import Path

import pytest

from app.domain.entry import DataError, FaqEntry
from app.domain.formats import format_of_content_type, format_of_path
from app.domain.records import load_faq, parse_dataset

EXPECTED = [
    FaqEntry("How many books can I borrow?", "Up to 20 items at once.", "Borrowing", "loans"),
    FaqEntry("Can I renew a loan online?", "Yes, from your account page.", "Borrowing", ""),
]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_csv_with_bom_semicolons_any_header_case_and_aliases(tmp_path):
    # A spreadsheet's export: BOM, semicolons, "Category" for source, "URL" for the page,
    # an extra column, cells with stray spaces and a quoted cell holding a newline-free ';'.
    text = (
        "Category;Question;ANSWER;URL;notes\n"
        "Borrowing;How many books can I borrow? ;Up to 20 items at once.;loans;x\n"
        'Borrowing; Can I renew a loan online?;"Yes, from your account page.";;\n'
        ";;;;\n"
    )
    path = tmp_path / "faq.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_faq(path).entries == EXPECTED


def test_tsv_by_extension_and_csv_by_format_flag(tmp_path):
    rows = "question\tanswer\tsource\tpage\n" + "".join(
        f"{e.question}\t{e.answer}\t{e.source}\t{e.filename}\n" for e in EXPECTED
    )
    assert load_faq(write(tmp_path / "faq.tsv", rows)).entries == EXPECTED
    assert load_faq(write(tmp_path / "faq.txt", rows), fmt="tsv").entries == EXPECTED


def test_xlsx_first_sheet_numbers_as_typed(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Question", "Answer", "Source", "Filename"])
    for e in EXPECTED:
        sheet.append([e.question, e.answer, e.source, e.filename or None])
    sheet.append([None, None, None, None])  # a blank row is no entry
    sheet.append(["How many rooms are there?", 3, "Spaces", None])
    book.create_sheet("other").append(["ignored"])
    path = tmp_path / "faq.xlsx"
    book.save(path)
    entries = load_faq(path).entries
    assert entries[:2] == EXPECTED
    assert entries[2] == FaqEntry("How many rooms are there?", "3", "Spaces", "")


def test_json_array_and_entries_object(tmp_path):
    records = [e.to_record() for e in EXPECTED]
    assert load_faq(write(tmp_path / "a.json", json.dumps(records))).entries == EXPECTED
    assert load_faq(write(tmp_path / "b.json", json.dumps({"entries": records}))).entries == EXPECTED


def test_html_json_ld_faq_page(tmp_path):
    document = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "x"},
            {
                "@type": "FAQPage",
                "mainEntity": [
                    {
                        "@type": "Question",
                        "name": "Do you ship abroad?",
                        "acceptedAnswer": {"@type": "Answer", "text": "<p>Yes, to <b>EU</b> countries.</p>"},
                    }
                ],
            },
        ],
    }
    page = (
        "<html><head><title>Shop help</title>"
        f'<script type="application/ld+json">{json.dumps(document)}</script></head>'
        "<body><h2>Other</h2><p>text</p></body></html>"
    )
    entries = load_faq(write(tmp_path / "faq.html", page)).entries
    assert entries == [FaqEntry("Do you ship abroad?", "Yes, to EU countries.", "Shop help", "")]


def test_html_microdata_details_definition_list_and_headings(tmp_path):
    microdata = """<div itemscope itemtype="https://schema.org/FAQPage">
      <div itemscope itemprop="mainEntity" itemtype="https://schema.org/Question">
        <h3 itemprop="name">Can I pay by card?</h3>
        <div itemscope itemprop="acceptedAnswer" itemtype="https://schema.org/Answer">
          <div itemprop="text"><p>Yes, all major cards.</p></div></div></div></div>"""
    details = "<details><summary>Is parking free?</summary><p>For two hours.</p></details>"
    definitions = "<dl><dt>Opening hours?</dt><dd>9 to 5.</dd><dd>Closed Sundays.</dd></dl>"
    headings = """<body><nav>Home | About</nav><h1>Help</h1><p>Welcome.</p>
      <h2>Borrowing</h2><h3>How many books can I borrow?</h3><p>Up to 20 items</p><p>at once.</p>
      <h3>Can I renew a loan online?</h3><ul><li>Yes, from your account page.</li></ul>
      <footer>© library</footer></body>"""
    read = lambda name, body: load_faq(write(tmp_path / name, body)).entries  # noqa: E731
    assert read("m.html", microdata) == [FaqEntry("Can I pay by card?", "Yes, all major cards.")]
    assert read("d.htm", details) == [FaqEntry("Is parking free?", "For two hours.")]
    assert read("l.html", definitions) == [FaqEntry("Opening hours?", "9 to 5. Closed Sundays.")]
    assert read("h.html", headings) == [
        FaqEntry("How many books can I borrow?", "Up to 20 items at once.", "Borrowing"),
        FaqEntry("Can I renew a loan online?", "Yes, from your account page.", "Borrowing"),
    ]


def test_markdown_headings_are_questions_and_their_parents_sources(tmp_path):
    text = """# Library help

Intro that answers nothing.

## Borrowing

### How many books can I borrow?

Up to **20** items at once.

### Can I renew a loan online?

Yes, from your account page.

## Fees

### Are there late fees?
"""
    path = write(tmp_path / "faq.md", text)
    with pytest.raises(DataError) as info:
        load_faq(path)  # the last question has no answer: named by its line
    assert f"{path}, line 17: field 'answer' must not be empty" in str(info.value)
    dataset = load_faq(path, skip_invalid=True)
    assert dataset.entries == [
        FaqEntry("How many books can I borrow?", "Up to **20** items at once.", "Borrowing"),
        FaqEntry("Can I renew a loan online?", "Yes, from your account page.", "Borrowing"),
    ]
    assert [(row.where, row.problem) for row in dataset.invalid] == [
        ("line 17", "field 'answer' must not be empty")
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("faq.csv", "question,reply\nq,a\n", "row 1: the header has no 'answer' column"),
        ("faq.csv", "question,answer\nq,a\n,b\n", "row 3: field 'question' must not be empty"),
        ("faq.csv", "", "empty file"),
        ("faq.json", '[{"question": "q", "answer": "a"}, 3]', "entry 2: expected a JSON object, got int"),
        ("faq.json", '{"items": []}', 'expected a JSON array of entries or {"entries": [...]}'),
        ("faq.json", "[1,", "line 1: invalid JSON"),
        ("faq.html", "<p>just a paragraph</p>", "no FAQ found"),
        ("faq.md", "no headings at all", "no FAQ found"),
        ("faq.xlsx", "not a zip", "not an Excel .xlsx workbook"),
    ],
)
def test_errors_name_the_file_the_row_and_the_field(tmp_path, name, content, message):
    path = write(tmp_path / name, content)
    with pytest.raises(DataError) as info:
        load_faq(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_not_utf8_and_unknown_format_are_clear(tmp_path):
    path = tmp_path / "faq.csv"
    path.write_bytes("question,answer\ncafé,a\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8 text"):
        load_faq(path)
    with pytest.raises(DataError, match="unknown format 'yaml'"):
        load_faq(path, fmt="yaml")


def test_format_by_extension_and_content_type():
    assert format_of_path("x.CSV") == "csv" and format_of_path("x.markdown") == "markdown"
    assert format_of_path("x.data") == "jsonl"  # the project's own format when nothing says
    assert format_of_path("x.csv", "md") == "markdown"
    assert format_of_content_type("text/csv; charset=utf-8") == "csv"
    assert format_of_content_type("application/octet-stream") == "jsonl"
    assert format_of_content_type("text/csv", "xlsx") == "xlsx"


def test_one_normaliser_for_files_and_the_api():
    """A cell's stray spaces must not give an entry a second id (issue: 18 real entries did)."""
    from app.api.schemas.entries import EntryIn

    padded = "question,answer,source\n  How do I join? ,Bring an ID. , main \n"
    from_file = parse_dataset(padded.encode(), origin="upload", fmt="csv").entries[0]
    from_api = EntryIn.model_validate(
        {"question": "  How do I join? ", "answer": "Bring an ID. ", "source": " main "}
    )
    as_entry = FaqEntry(from_api.question, from_api.answer, from_api.source, from_api.filename)
    assert from_file == as_entry == FaqEntry("How do I join?", "Bring an ID.", "main")
    assert from_file.id == as_entry.id


def test_alternate_wordings_from_every_format(tmp_path):
    """`alternates` as a JSON list, as further `alternate` columns, or one column split on
    `|`; normalised (blanks, repeats and the question itself dropped); kept by to_record."""
    from app.domain.records import load_faq

    csv_file = tmp_path / "faq.csv"
    csv_file.write_text(
        "question,answer,alternate,Alternate 2,wordings\n"
        "how do i renew a book?,online or at the desk,renew loans online, can I extend my loan ,"
        "extend a loan|how do i renew a book| |\n"
        "where is the library?,on main street,,,\n",
        encoding="utf-8",
    )
    first, second = load_faq(csv_file).entries
    assert first.alternates == ("renew loans online", "can I extend my loan", "extend a loan")
    assert second.alternates == () and "alternates" not in second.to_record()
    jsonl = tmp_path / "faq.jsonl"
    jsonl.write_text(json.dumps(first.to_record()) + "\n", encoding="utf-8")
    (again,) = load_faq(jsonl).entries
    assert again == first and again.id == first.with_alternates([]).id, "wordings are not the content id"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": "a", "alternates": [3]}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1: alternate 1 must be a string"):
        load_faq(bad)


@pytest.mark.parametrize(
    "header",
    [
        "Question,Answer,Category,Alternate questions",
        "questions,answers,CATEGORY,alternative question",
        " Question? , Answer: ,source,Other wordings",
        "question,answer,category,Synonyms",
        "Question,Answer,Topic,alternate_question_2",
    ],
)
def test_the_headers_owners_write_are_read_whatever_their_case_and_spacing(header):
    data = f'{header}\n"How do I renew?","Online.","Loans","renew a book|extend a loan"\n'.encode()
    dataset = parse_dataset(data, origin="faq.csv", fmt="csv")
    (entry,) = dataset.entries
    assert (entry.question, entry.answer, entry.source) == ("How do I renew?", "Online.", "Loans")
    assert entry.alternates == ("renew a book", "extend a loan")
    assert dataset.ignored_columns == ()


def test_columns_not_read_are_named_in_the_summary(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Question", "Answer", "Owner", "Answers", "Related questions", None])
    sheet.append(["How do I renew?", "Online.", "Ana", "Twice.", "How do I renew?", None])
    path = tmp_path / "faq.xlsx"
    book.save(path)
    dataset = load_faq(path)
    assert dataset.ignored_columns == (
        "column 'Owner' ignored",
        "column 'Answers' ignored (column 'Answer' is the answer)",
    )
    assert dataset.entries[0].follow_ups == ("How do I renew?",)  # read, resolved when indexed
    assert "column 'Owner' ignored" in dataset.summary()
