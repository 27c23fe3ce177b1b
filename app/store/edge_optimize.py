"""Build an Edge shard's search index in a process of its own: `python -m app.store.edge_optimize
SHARD_FOLDER`. Edge's optimiser holds the GIL while it runs, which would stall every request of
the process that serves; the index job runs it here, on a shard that process has closed."""

from __future__ import annotations

import sys

import qdrant_edge as qe


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m app.store.edge_optimize SHARD_FOLDER\n")
        return 2
    shard = qe.EdgeShard.load(argv[0])
    try:
        shard.optimize()
        shard.flush()
    finally:
        shard.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
