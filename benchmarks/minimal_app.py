"""The benchmark's baseline: the simplest FAQ service one would write with the same servable
and the same vectors. Each request encodes its question alone with the fine-tuned encoder and
searches the answer vectors only; no batching, no cache, no second side, no threshold. The
vectors are qdrant-client's local mode in memory (the embedded store of earlier releases),
copied at start from the indexed store at QDRANT_PATH.

    FAQ_SERVABLE=var/servable QDRANT_PATH=... python -m benchmarks.minimal_app --port 8001
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from app.config import ServiceSettings
from app.encoding.servable import Servable
from app.store.client_engine import ClientStore
from app.store.migration import copy_store
from app.store.opening import open_store


class Ask(BaseModel):
    question: str
    top_k: int = 5


def create_minimal_app(settings: ServiceSettings) -> FastAPI:
    servable = Servable.load(settings.servable, device="cpu")
    indexed = open_store(settings)
    store = ClientStore.in_memory()
    try:
        copy_store(indexed, store)
    finally:
        indexed.close()
    app = FastAPI(title="minimal FAQ baseline")

    @app.get("/ready")
    def ready() -> dict:
        return {"points": store.collection_info(settings.collection).points}

    @app.post("/ask")
    def ask(body: Ask) -> dict:
        vector = servable.encode([body.question])[0]
        points = store.query(settings.collection, vector, "answer", limit=body.top_k, with_entries=True)
        return {
            "answers": [
                {"id": p.id, "answer": p.entry.answer, "score": p.score}
                for p in points
                if p.entry is not None
            ]
        }

    return app


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(create_minimal_app(ServiceSettings()), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
