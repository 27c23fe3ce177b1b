"""The widget on another site's page, in a real headless Chromium against a real `faq serve`:
the host pages are served on other origins (`localhost`, allowed; `127.0.0.2`, not) by a
server of their own, with styles that would break a widget not kept apart. On the allowed site:
the three outcomes, helpful, follow-ups, the keyboard, a 390 px screen, no console error,
labels, focus and contrast, and its first answer within 300 ms of the service's /ask time. On
the other site: refused. A hostile page on the allowed site cannot read the owner's data, and
the embed page is framed by the allowed site only."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.app.api.conftest import ADMIN_KEY, index_into
from tests.app.api.test_page import _wait, browser, pytestmark  # noqa: F401 - the browser, or the skip
from tests.cli.conftest import Service, free_port, start_service, stop_service

SERVICE = {"X-API-Key": ADMIN_KEY}
ENTRIES = [
    {
        "question": "How long does delivery take?",
        "answer": "Two to three working days in the country.",
        "follow_ups": ["Can I track my parcel?", "How much does delivery cost?"],
    },
    {
        "question": "Can I track my parcel?",
        "answer": "Yes: the e-mail with your order has the tracking link.",
    },
    {"question": "How much does delivery cost?", "answer": "Free from 30 euros, else 4.90 euros."},
    {"question": "How do I return an item?", "answer": "Within 30 days, with the form in your parcel."},
]
# A hostile site's styles: they must not reach the widget (it keeps to its shadow root).
HOSTILE_CSS = "* { all: unset !important; } button { display: none !important; } body { font-size: 40px; }"
# Kept for the test to look into the widget's closed shadow root (as any page could).
KEEP_ROOT = (
    "const attach = Element.prototype.attachShadow;"
    "Element.prototype.attachShadow = function (init) { const r = attach.call(this, init);"
    " window.__widgetRoot = r; return r; };"
    "document.addEventListener('faq-widget:answer', (e) => {"
    " window.__answers = [...(window.__answers || []), {at: performance.now(), took: e.detail.took_ms}]; });"
)


def _page(service: Service, key: str, extra: str = "") -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>A shop</title><style>{HOSTILE_CSS}</style><script>{KEEP_ROOT}</script></head>"
        "<body><h1>A shop</h1><p>Our products.</p>"
        f'<script src="{service.url}/widget.js" data-faq="shop" data-key="{key}" data-title="Help"'
        ' data-color="#0f766e" async></script>'
        f"{extra}</body></html>"
    )


@pytest.fixture(scope="module")
def shop(trained_servable, tmp_path_factory) -> Iterator[tuple[Service, str, dict[str, str]]]:
    """The service with the FAQ `shop` (closed: asked with a public key), and the host pages on
    two other origins: (service, public key, {"allowed": url, "other": url})."""
    store = tmp_path_factory.mktemp("widget-browser-qdrant")
    index_into(store, trained_servable)
    service = start_service(trained_servable, {"QDRANT_PATH": str(store)})
    pages = tmp_path_factory.mktemp("host-pages")
    port = free_port()
    server = http.server.ThreadingHTTPServer(
        ("0.0.0.0", port), functools.partial(_Quiet, directory=str(pages))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    allowed, other = f"http://localhost:{port}", f"http://127.0.0.2:{port}"
    try:
        with httpx.Client(base_url=service.url, headers=SERVICE, timeout=60) as http_client:
            assert http_client.post("/admin/faqs", json={"name": "shop", "open": False}).status_code == 201
            assert http_client.post("/faqs/shop/faq/entries", json=ENTRIES).status_code == 201
            key = http_client.post("/faqs/shop/admin/keys", json={"scope": "public"}).json()["key"]
            widget = http_client.put("/faqs/shop/admin/widget", json={"allowed_origins": [allowed]})
            assert widget.status_code == 200, widget.text
        hostile = (
            "<script>window.__stolen = {};"
            f"for (const path of ['/faqs/shop/faq/entries', '/faqs/shop/admin/widget', '/admin/faqs']) {{"
            f"  fetch('{service.url}' + path, {{headers: {{'X-API-Key': '{key}'}}}})"
            "    .then((r) => r.text()).then((t) => { window.__stolen[path] = t; })"
            "    .catch((e) => { window.__stolen[path] = 'blocked: ' + e.name; }); }"
            "</script>"
            f'<iframe id="embed" title="FAQ" src="{service.url}/faqs/shop/embed?key={key}"'
            ' style="width:360px;height:480px"></iframe>'
        )
        (pages / "shop.html").write_text(_page(service, key))
        (pages / "hostile.html").write_text(_page(service, key, hostile))
        yield service, key, {"allowed": allowed, "other": other}
    finally:
        server.shutdown()
        stop_service(service)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


def _root(driver, script: str):
    """Run `script` with `root` bound to the widget's shadow root (None before it exists)."""
    return driver.execute_script(f"const root = window.__widgetRoot; if (!root) return null; {script}")


def _open_and_ask(driver, question: str, count: int) -> dict:
    """Type `question` in the open widget and wait for the `count`-th reply; its status and
    text, and the times of the exchange."""
    _root(
        driver,
        "const input = root.querySelector('input');"
        f"input.value = {json.dumps(question)};"
        "window.__askedAt = performance.now();"
        "root.querySelector('form').requestSubmit();",
    )
    _wait(driver, lambda d: _root(d, f"return root.querySelectorAll('.reply').length >= {count};"))
    return _root(
        driver,
        "const reply = root.querySelectorAll('.reply')[" + str(count - 1) + "];"
        "return {status: reply.dataset.status || reply.getAttribute('role'), text: reply.textContent};",
    )


CONTRAST = """
const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 4).map(Number);
const luminance = ([r, g, b]) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const background = (el) => {
  for (let e = el; e; e = e.parentElement || (e.getRootNode() && e.getRootNode().host)) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length < 4 || c[3] > 0) return c;
  }
  return [255, 255, 255];
};
const worst = [];
for (const el of root.querySelectorAll('button, h2, input, p, span')) {
  if (!el.textContent.trim() && el.tagName !== 'INPUT') continue;
  if (el.closest('[hidden]') || el.classList.contains('sr')) continue;
  const a = luminance(rgb(getComputedStyle(el).color)), b = luminance(background(el));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < 4.5) worst.push([el.className || el.tagName, ratio.toFixed(2)]);
}
return worst;
"""
UNNAMED = """
const unnamed = [];
for (const el of root.querySelectorAll('button, input')) {
  const label = el.id ? root.querySelector(`label[for="${el.id}"]`) : null;
  const name = el.getAttribute('aria-label') || el.textContent.trim() || (label && label.textContent.trim());
  if (!name) unnamed.push(el.outerHTML.slice(0, 80));
}
return unnamed;
"""


def test_the_widget_answers_on_an_allowed_site(browser, shop):  # noqa: F811
    from selenium.webdriver.common.keys import Keys

    service, _, pages = shop
    browser.set_window_size(1200, 900)
    browser.get(f"{pages['allowed']}/shop.html")
    browser.get_log("browser")  # from here on: this page's console
    _wait(browser, lambda d: _root(d, "return !!root.querySelector('.launcher');"))
    # the host page's styles do not reach it: its launcher shows, in its own colour
    shown = _root(
        browser,
        "const b = root.querySelector('.launcher'), s = getComputedStyle(b);"
        "return [s.display, s.backgroundColor, b.textContent];",
    )
    assert shown == ["block", "rgb(15, 118, 110)", "Help"], shown
    # keyboard: the launcher opens with Enter, the question field has the focus
    browser.execute_script("window.__widgetRoot.querySelector('.launcher').focus();")
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    _wait(browser, lambda d: _root(d, "return root.activeElement && root.activeElement.tagName === 'INPUT';"))
    assert _root(browser, "return root.querySelector('.launcher').getAttribute('aria-expanded');") == "true"
    assert _root(browser, UNNAMED) == []
    # answered: the answer, helpful yes/no, and the follow-ups
    first = _open_and_ask(browser, "how many days is the delivery?", 1)
    assert first["status"] == "answered" and "Two to three working days" in first["text"]
    # the first answer shown within 300 ms of the service's own /ask time (the preflight, the
    # request and the widget's work together)
    answered = browser.execute_script("return {asked: window.__askedAt, shown: window.__answers[0]};")
    shown_after = answered["shown"]["at"] - answered["asked"]
    assert 0 < shown_after < answered["shown"]["took"] + 300, answered
    follow_ups = _root(
        browser, "return [...root.querySelectorAll('.reply .choices button')].map((b) => b.textContent);"
    )
    assert follow_ups == ["Can I track my parcel?", "How much does delivery cost?"]
    assert _root(browser, "return [...root.querySelectorAll('.vote button')].map((b) => b.textContent);") == [
        "Yes",
        "No",
    ]
    _root(browser, "root.querySelectorAll('.vote button')[0].click();")
    _wait(
        browser,
        lambda d: _root(d, "return root.querySelector('.vote [role=status]').textContent;") == "Thanks!",
    )
    # a follow-up chosen: that entry's answer
    _root(browser, "root.querySelectorAll('.reply .choices button')[0].click();")
    _wait(browser, lambda d: _root(d, "return root.querySelectorAll('.reply').length === 2;"))
    assert "tracking link" in _root(browser, "return root.querySelectorAll('.reply')[1].textContent;")
    # nothing the FAQ answers: said so
    declined = _open_and_ask(browser, "what is the capital of peru?", 3)
    assert declined["status"] in ("no_answer", "clarify"), declined
    # labels, contrast and focus hold with answers shown; Escape closes, focus back on the launcher
    assert _root(browser, UNNAMED) == []
    assert _root(browser, CONTRAST) == []
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    _wait(
        browser,
        lambda d: _root(d, "return root.activeElement && root.activeElement.classList.contains('launcher');"),
    )
    assert _root(browser, "return root.querySelector('.panel').hidden;") is True
    # on a phone: the panel fits the screen
    browser.set_window_size(390, 844)
    _root(browser, "root.querySelector('.launcher').click();")
    width, right = _root(
        browser,
        "const r = root.querySelector('.panel').getBoundingClientRect();return [window.innerWidth, r.right];",
    )
    assert (
        right <= width
        and _root(browser, "return root.querySelector('.panel').getBoundingClientRect().left;") >= 0
    )
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors
    # the path of the follow-up is in the owner's insights
    insights = httpx.get(f"{service.url}/faqs/shop/admin/insights", headers=SERVICE).json()
    assert [step["question"] for step in insights["next_steps"]] == ["How long does delivery take?"]


def test_another_site_is_refused(browser, shop):  # noqa: F811
    _, _, pages = shop
    browser.set_window_size(1200, 900)
    browser.get(f"{pages['other']}/shop.html")
    _wait(browser, lambda d: _root(d, "return !!root.querySelector('.launcher');"))
    _root(browser, "root.querySelector('.launcher').click();")
    refused = _open_and_ask(browser, "how long does delivery take?", 1)
    assert refused["status"] == "alert" and "could not be fetched" in refused["text"]


def test_a_hostile_page_reads_no_owner_data_and_frames_the_faq_only_where_allowed(browser, shop):  # noqa: F811
    service, key, pages = shop
    browser.set_window_size(1200, 900)
    browser.get(f"{pages['allowed']}/hostile.html")
    _wait(browser, lambda d: d.execute_script("return Object.keys(window.__stolen || {}).length === 3;"))
    stolen = browser.execute_script("return window.__stolen;")
    assert all(text.startswith("blocked") for text in stolen.values()), stolen
    # the embed page, framed by the allowed site: the widget inline, answering
    browser.switch_to.frame(browser.find_element("id", "embed"))
    _wait(browser, lambda d: d.execute_script("return !!document.querySelector('[data-faq-widget]');"))
    browser.switch_to.default_content()
    # the same page on another site: the frame is refused by the browser
    browser.get(f"{pages['other']}/hostile.html")
    browser.switch_to.frame(browser.find_element("id", "embed"))
    framed = browser.execute_script("return !!document.querySelector('[data-faq-widget]');")
    browser.switch_to.default_content()
    assert framed is False
