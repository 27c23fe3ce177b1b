"""The owner's page at `/admin`, end to end in headless Chromium against a real `faq serve`:
sign in (a wrong key says so), add an entry with two wordings and find it on `/`, resolve a
review item, preview and apply an import, stage a reindex, run the test set, publish and roll
back; by keyboard where a person would, and at a phone's width. FAQ_SCREENSHOTS=DIR keeps a
screenshot of each view (the README's)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.app.api.conftest import ADMIN_KEY, index_into
from tests.app.api.test_page import _ask, _text, _wait, browser, pytestmark  # noqa: F401 (fixtures)
from tests.cli.conftest import Service, start_service, stop_service
from tests.conftest import MINI_FAQ

NEW = {
    "question": "where do i leave my scooter overnight?",
    "answer": "in the locked rack behind building b",
    "wordings": ["scooter parking at night", "kick scooter storage"],
}


@pytest.fixture(scope="module")
def admin_service(trained_servable, tmp_path_factory) -> Iterator[Service]:
    qdrant = tmp_path_factory.mktemp("admin-qdrant")
    index_into(qdrant, trained_servable)
    service = start_service(trained_servable, {"QDRANT_PATH": str(qdrant)})
    yield service
    stop_service(service)


def _shot(driver, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("FAQ_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(folder / f"admin-{name}.png"))


def _view(driver, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f'.tabs [data-view="{name}"]').click()
    _wait(driver, lambda d: d.find_element(By.ID, f"view-{name}").is_displayed())


def test_the_owners_page(browser, admin_service, tmp_path):  # noqa: F811 (the fixture)
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    url = admin_service.url
    admin = {"X-API-Key": ADMIN_KEY}
    browser.get(f"{url}/admin")
    # sign in with the keyboard: a wrong key says so, the right one opens the console
    key = browser.find_element(By.ID, "key")
    assert browser.switch_to.active_element == key
    key.send_keys("not-the-key", Keys.ENTER)
    _wait(browser, lambda d: "wrong API key" in _text(d.find_element(By.ID, "signin-status")))
    assert not browser.find_element(By.ID, "console").is_displayed()
    key.clear()
    key.send_keys(ADMIN_KEY, Keys.ENTER)
    _wait(browser, lambda d: d.find_element(By.ID, "console").is_displayed())
    assert ADMIN_KEY not in browser.current_url
    assert browser.execute_script("return sessionStorage.getItem('faqAdminKey')") == ADMIN_KEY
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#entries-body tr[data-id]"))

    # add an entry with two wordings
    browser.find_element(By.ID, "entry-question").send_keys(NEW["question"])
    browser.find_element(By.ID, "entry-answer").send_keys(NEW["answer"])
    browser.find_element(By.ID, "entry-source-field").send_keys("office")
    browser.find_element(By.ID, "entry-wordings").send_keys("\n".join(NEW["wordings"]))
    browser.find_element(By.ID, "entry-save").click()
    _wait(browser, lambda d: "Saved" in _text(d.find_element(By.ID, "entry-status")))
    search = browser.find_element(By.ID, "entry-q")
    search.send_keys("scooter", Keys.ENTER)
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#entries-body tr[data-id]")) == 1)
    row = browser.find_element(By.CSS_SELECTOR, "#entries-body tr[data-id]")
    assert [_text(td) for td in row.find_elements(By.CSS_SELECTOR, "td")][:3] == [
        NEW["question"],
        "office",
        "2",
    ]
    _shot(browser, "entries", tmp_path)
    # ... and find it on the asker's page by one of its wordings
    browser.get(f"{url}/")
    _ask(browser, NEW["wordings"][1])
    first = browser.find_element(By.CSS_SELECTOR, "#answers .answer .faq-question")
    assert _text(first) == NEW["question"]

    # the review queue: a question the FAQ could not answer, added as a wording in one click
    asked = "is there a quiet room for phone calls at the branch"
    assert httpx.post(f"{url}/ask", json={"question": asked}).json()["status"] != "answered"
    browser.get(f"{url}/admin")  # still signed in: the key is kept for the tab
    _wait(browser, lambda d: d.find_element(By.ID, "console").is_displayed())
    _view(browser, "review")
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#review-list > li[data-id]"))
    item = next(
        i for i in browser.find_elements(By.CSS_SELECTOR, "#review-list > li[data-id]") if asked in _text(i)
    )
    _shot(browser, "review", tmp_path)
    item.find_element(By.CSS_SELECTOR, "button.add-wording").send_keys(Keys.ENTER)  # keyboard again
    _wait(browser, lambda d: _text(d.find_element(By.ID, "review-status")))
    assert "Done" in _text(browser.find_element(By.ID, "review-status")), _text(
        browser.find_element(By.ID, "review-status")
    )
    _wait(browser, lambda d: asked not in _text(d.find_element(By.ID, "review-list")))
    assert httpx.post(f"{url}/ask", json={"question": asked}).json()["status"] == "answered"

    # import: the preview first, nothing written; then apply
    csv = tmp_path / "office.csv"
    csv.write_text(
        "category,question,answer\noffice,where is the first aid kit?,next to the kitchen sink\n"
        "office,how do i order a monitor?,ask the it desk\n",
        encoding="utf-8",
    )
    before = httpx.get(f"{url}/ready").json()["points"]
    _view(browser, "import")
    browser.find_element(By.ID, "import-file").send_keys(str(csv))
    browser.find_element(By.ID, "import-preview").click()
    _wait(browser, lambda d: "Preview" in _text(d.find_element(By.ID, "import-report")))
    assert "2 added, 0 changed, 0 removed, 0 unchanged" in _text(browser.find_element(By.ID, "import-report"))
    assert httpx.get(f"{url}/ready").json()["points"] == before
    _shot(browser, "import", tmp_path)
    browser.find_element(By.ID, "import-apply").click()
    _wait(browser, lambda d: "Imported: 2 added" in _text(d.find_element(By.ID, "import-report")))
    assert httpx.get(f"{url}/ready").json()["points"] == before + 2

    # versions: stage a reindex (half the FAQ), test it, publish it, roll back
    live_before = httpx.get(f"{url}/admin/versions", headers=admin).json()["versions"][0]["name"]
    staged_file = tmp_path / "half.jsonl"
    staged_file.write_text("\n".join(MINI_FAQ.read_text().splitlines()[:20]) + "\n", encoding="utf-8")
    _view(browser, "versions")
    browser.find_element(By.ID, "stage-file").send_keys(str(staged_file))
    browser.find_element(By.CSS_SELECTOR, "#stage-form button[type=submit]").click()
    _wait(browser, lambda d: "staged" in _text(d.find_element(By.ID, "stage-status")), timeout=120)
    _wait(
        browser, lambda d: any("staged" in _text(td) for td in d.find_elements(By.CSS_SELECTOR, "td.state"))
    )
    staged = next(
        v for v in httpx.get(f"{url}/admin/versions", headers=admin).json()["versions"] if v["staged"]
    )
    tests = tmp_path / "tests.csv"
    questions = [json.loads(line)["question"] for line in MINI_FAQ.read_text().splitlines()[18:22]]
    tests.write_text(
        "question,expected_question\n" + "".join(f"{q},{q}\n" for q in questions), encoding="utf-8"
    )
    Select(browser.find_element(By.ID, "test-version")).select_by_value(staged["name"])
    browser.find_element(By.ID, "test-file").send_keys(str(tests))
    browser.find_element(By.CSS_SELECTOR, "#test-form button[type=submit]").click()
    _wait(browser, lambda d: "right" in _text(d.find_element(By.ID, "test-report")))
    report = _text(browser.find_element(By.ID, "test-report"))
    assert report.startswith(f"{staged['name']}: 2 right") and "(of 4)" in report
    _shot(browser, "versions", tmp_path)
    row = browser.find_element(By.CSS_SELECTOR, f'#versions-body tr[data-name="{staged["name"]}"]')
    row.find_element(By.CSS_SELECTOR, "button.activate").click()
    _wait(browser, lambda d: f"{staged['name']} is live" in _text(d.find_element(By.ID, "versions-status")))
    assert httpx.get(f"{url}/ready").json()["points"] == 20
    row = browser.find_element(By.CSS_SELECTOR, f'#versions-body tr[data-name="{live_before}"]')
    row.find_element(By.CSS_SELECTOR, "button.activate").click()
    _wait(browser, lambda d: f"{live_before} is live" in _text(d.find_element(By.ID, "versions-status")))
    assert httpx.get(f"{url}/ready").json()["points"] == before + 2, "rolled back, live changes and all"

    # insights: the chart and the tables
    _view(browser, "insights")
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#insights-chart svg rect"))
    assert "questions" in _text(browser.find_element(By.ID, "insights-chart"))
    assert browser.find_elements(By.CSS_SELECTOR, "#insights-top li")
    _shot(browser, "insights", tmp_path)

    # a phone's width: no view is wider than the screen
    browser.set_window_size(390, 800)
    try:
        for view in ("entries", "review", "import", "versions", "insights"):
            _view(browser, view)
            assert browser.execute_script(
                "return document.documentElement.scrollWidth <= window.innerWidth"
            ), view
    finally:
        browser.set_window_size(1200, 900)
    browser.find_element(By.ID, "signout").click()
    assert browser.execute_script("return sessionStorage.getItem('faqAdminKey')") is None
