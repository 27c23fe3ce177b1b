"""Per-client budgets for what anonymous clients can write: feedback, and the unanswered
questions their asks record. Without them one client could fill the store (5,000 feedback posts
in two minutes were all accepted) or push every real recorded question out of its cap.

A token bucket per client (refilled at `per_minute`, holding at most `burst`), the clients kept
in a bounded LRU table so that many addresses cannot grow it without end (a client pushed out
starts again with a full bucket: the bound costs precision, never memory).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

MAX_CLIENTS = 10_000


class ClientBudget:
    def __init__(self, per_minute: float, burst: int | None = None, max_clients: int = MAX_CLIENTS):
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, round(per_minute)))
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, client: str, now: float | None = None) -> bool:
        """Take one token for `client`: True when it had one."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return allowed

    def retry_after(self) -> int:
        """Seconds until one token comes back."""
        return max(1, round(1.0 / self.rate)) if self.rate > 0 else 60
