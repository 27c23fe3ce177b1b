import json
import shutil

from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.api.conftest import index_into, settings_for


def test_health_and_ready(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["points"] == 40 and body["alias"] == "faq"
    assert body["collection"].startswith("faq_v")


def test_ready_and_ask_without_an_index(trained_servable, tmp_path):
    with TestClient(create_app(settings_for(trained_servable, tmp_path / "empty"))) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert any("does not exist" in p for p in ready.json()["problems"])
        response = client.post("/ask", json={"question": "what is dns?"})
        assert response.status_code == 503
        assert "faq index" in response.json()["detail"]


def test_store_down_gives_503_not_500(trained_servable):
    settings = settings_for(trained_servable, QDRANT_URL="http://127.0.0.1:9")
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503 and "unreachable" in " ".join(ready.json()["problems"])
        response = client.post("/ask", json={"question": "what is dns?"})
        assert response.status_code == 503
        assert "unreachable" in response.json()["detail"]


def test_ready_shows_where_files_live_to_the_admin_only(tmp_path):
    """Anyone may ask /ready (orchestrators do); paths are for the owner (the admin key)."""
    settings = settings_for(tmp_path / "no-servable", tmp_path / "q", ADMIN_API_KEY="owner-key")
    with TestClient(create_app(settings)) as client:
        public = client.get("/ready")
        assert public.status_code == 503 and str(tmp_path) not in public.text
        assert public.json()["store"] == "embedded Qdrant" and public.json()["servable"] is None
        assert any("servable not loaded: no servable at <path>" in p for p in public.json()["problems"])
        wrong = client.get("/ready", headers={"X-API-Key": "guess"})
        assert str(tmp_path) not in wrong.text
        ask = client.post("/ask", json={"question": "q"})
        assert ask.status_code == 503 and str(tmp_path) not in ask.text and "<path>" in ask.text
        owner = client.get("/ready", headers={"X-API-Key": "owner-key"})
        assert owner.status_code == 503 and str(tmp_path / "no-servable") in owner.text
        assert str(tmp_path / "q") in owner.json()["store"]


def test_missing_servable_gives_503(tmp_path):
    with TestClient(create_app(settings_for(tmp_path / "no-servable", tmp_path / "q"))) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert any("servable not loaded" in p for p in ready.json()["problems"])
        assert client.post("/ask", json={"question": "q"}).status_code == 503


def broken_copies(trained_servable, root):
    """Servable directories broken in the ways a disk or a careless copy breaks them."""
    corrupt_config = root / "corrupt-config"
    shutil.copytree(trained_servable, corrupt_config)
    (corrupt_config / "config.json").write_text("{not json")
    no_question_encoder = root / "no-question-encoder"
    shutil.copytree(trained_servable, no_question_encoder)
    shutil.rmtree(no_question_encoder / "question_encoder")
    empty = root / "empty"
    empty.mkdir()
    bad_meta = root / "bad-meta"
    shutil.copytree(trained_servable, bad_meta)
    (bad_meta / "faq_servable.json").write_text("[1, 2")
    return {
        corrupt_config: "cannot load the servable",
        no_question_encoder: "cannot load the question encoder",
        empty: "no servable at",
        bad_meta: "cannot read",
    }


def test_a_broken_servable_keeps_health_up_and_says_why(trained_servable, tmp_path):
    for path, problem in broken_copies(trained_servable, tmp_path).items():
        with TestClient(create_app(settings_for(path, tmp_path / f"q-{path.name}"))) as client:
            assert client.get("/health").status_code == 200
            ready = client.get("/ready")
            assert ready.status_code == 503 and problem in " ".join(ready.json()["problems"]), path.name
            ask = client.post("/ask", json={"question": "q"})
            assert ask.status_code == 503 and problem in ask.json()["detail"], path.name


def test_a_servable_from_a_newer_version_still_serves(trained_servable, tmp_path):
    newer = tmp_path / "newer"
    shutil.copytree(trained_servable, newer)
    meta = json.loads((newer / "faq_servable.json").read_text())
    meta["search"]["invented_later"] = True
    meta["also_new"] = {"x": 1}
    (newer / "faq_servable.json").write_text(json.dumps(meta))
    qdrant = tmp_path / "q"
    index_into(qdrant, trained_servable)
    with TestClient(create_app(settings_for(newer, qdrant))) as client:
        assert client.get("/ready").status_code == 200
        assert client.post("/ask", json={"question": "is there a free tier?"}).status_code == 200
