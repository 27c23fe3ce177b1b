"""Property-based API tests: schemathesis generates requests from the app's own OpenAPI document
(every route) and checks that none is a server error and every response conforms to the schema.

The default run has a small budget per operation; `make test-proof` runs the `proof` marked
version with many more examples. (schemathesis' pytest plugin does not work with this pytest,
so the operations are driven with hypothesis directly.)
"""

import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import create_app
from tests.app.api.conftest import ADMIN_KEY, settings_for


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value) -> bytes:
    """The reindex upload is declared as a string of JSONL text: send it as UTF-8 bytes (a lone
    surrogate that hypothesis draws travels as the bytes Python would escape it to)."""
    return str(value).encode("utf-8", errors="surrogatepass") if value is not None else b""


CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
ROUTES = {
    "POST /ask",
    "GET /sources",
    "POST /feedback",
    "GET /health",
    "GET /ready",
    "GET /metrics",
    "POST /admin/reindex",
    "GET /admin/reindex/{job_id}",
    "GET /admin/unanswered",
    "DELETE /admin/unanswered",
    "GET /admin/feedback",
    "DELETE /admin/feedback",
    "POST /faq/entries",
    "GET /faq/entries",
    "GET /faq/entries/{entry_id}",
    "PUT /faq/entries/{entry_id}",
    "DELETE /faq/entries/{entry_id}",
    "POST /faq/entries/{entry_id}/alternates",
    "DELETE /faq/entries/{entry_id}/alternates",
    "GET /admin/review",
    "POST /admin/review/{item_id}",
    "POST /admin/import",
    "GET /admin/versions",
    "POST /admin/versions/{name}/activate",
    "POST /admin/test",
    "GET /admin/insights",
    "GET /admin/rule",
    "POST /admin/rule/refit",
    "POST /admin/rule/undo",
    "POST /admin/keys",
    "GET /admin/keys",
    "DELETE /admin/keys/{key_id}",
    "GET /admin/widget",
    "PUT /admin/widget",
}
# Every FAQ's copy of the routes of one FAQ, and the service's FAQs.
ROUTES |= {
    f"{method} /faqs/{{faq}}{path}"
    for method, path in (route.split(" ", 1) for route in ROUTES)
    if not path.startswith(("/health", "/ready", "/metrics"))
}
ROUTES |= {"POST /admin/faqs", "GET /admin/faqs", "DELETE /admin/faqs/{faq}", "GET /admin/key"}


def check_every_operation(app, max_examples: int, derandomize: bool) -> set[str]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checked = set()
    for result in schema.get_all_operations():
        operation = result.ok()

        # A FAQ's copy of a route runs the same handler: a quarter of the examples (the FAQ's
        # name and access are what differ).
        copy = operation.label.split(" ", 1)[1].startswith("/faqs/{faq}/")

        @given(case=operation.as_strategy())
        @settings(
            max_examples=max(1, max_examples // 4) if copy else max_examples,
            deadline=None,
            derandomize=derandomize,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case) -> None:
            case.call_and_validate(checks=CHECKS)

        conforms()
        checked.add(operation.label)
    return checked


@pytest.fixture(scope="module")
def served_app(trained_servable, indexed_store_path, tmp_path_factory):
    """The whole app over its own copy of the indexed store: schemathesis runs the app's lifespan
    itself (and keeps it alive), and an embedded store can be opened once only."""
    store = tmp_path_factory.mktemp("schemathesis") / "qdrant"
    shutil.copytree(indexed_store_path, store, ignore=shutil.ignore_patterns(".lock"))
    return create_app(settings_for(trained_servable, store, ADMIN_API_KEY=ADMIN_KEY))


def test_every_route_conforms(served_app):
    assert check_every_operation(served_app, max_examples=20, derandomize=True) == ROUTES


@pytest.mark.proof
def test_every_route_conforms_long(served_app):
    assert check_every_operation(served_app, max_examples=300, derandomize=False) == ROUTES
