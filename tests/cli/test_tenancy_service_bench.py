"""`python -m benchmarks.tenancy_service`: many FAQs in a running service, against one, with new
FAQs created and filled through the API while clients ask the others (slow: two services)."""

import json

import pytest

from benchmarks import tenancy_service
from tests.conftest import MINI_FAQ


@pytest.mark.slow
def test_the_service_is_measured_with_one_and_with_many_faqs(trained_servable, tmp_path, capsys):
    output = tmp_path / "tenancy.json"
    tenancy_service.main(
        [
            "--servable", str(trained_servable), "--data", str(MINI_FAQ), "--faqs", "4", "--entries", "10",
            "--clients", "2", "--seconds", "2", "--rounds", "20", "--output", str(output),
        ]
    )  # fmt: skip
    result = json.loads(output.read_text())
    assert result["faqs"] == 4 and result["entries_per_faq"] == 10
    assert set(result["lone_p50_ms"]) == {"one", "many"}
    assert result["quiet"]["requests"] > 0 and result["quiet"]["failed"] == 0
    busy = result["while_faqs_are_written"]
    assert busy["failed"] == 0 and busy["requests"] > 0
    # the FAQs written meanwhile were created (201) and filled (201) through the API
    assert result["faqs_written"] and all(
        (w["created"], w["filled"]) == (201, 201) for w in result["faqs_written"]
    ), result["faqs_written"]
    assert "lone /ask p50" in capsys.readouterr().out


def test_a_bad_number_of_faqs_is_refused():
    with pytest.raises(SystemExit):
        tenancy_service.main(["--data", str(MINI_FAQ), "--faqs", "0"])
