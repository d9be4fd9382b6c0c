"""Open connections, counted per client and in total; under pressure the idlest one goes.

A connection is *idle* while it handshakes, waits for a request or reads a request head,
and *busy* while a request is being served. When the table is full a new connection takes
the place of the connection idle the longest (a slow or silent client), so a crowd of
slow clients cannot keep an operator out; busy connections are never evicted.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from webconsole.front.clients import client_key


@dataclass(eq=False)
class Tracked:
    """One open connection: whose it is and how to drop it."""

    key: str
    abort: Callable[[], None]
    since: float = 0.0  # when it last became idle
    busy: bool = False
    open: bool = field(default=True, repr=False)


class ConnectionTable:
    def __init__(
        self, total: int, per_client: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if total < 1 or per_client < 1:
            raise ValueError("connection limits must be at least 1")
        self._total = total
        self._per_client = per_client
        self._clock = clock
        self._per_key: Counter[str] = Counter()
        self._open: dict[int, Tracked] = {}
        self._idle: OrderedDict[int, Tracked] = OrderedDict()  # oldest idle first
        self.evicted = 0
        self.refused = 0

    def __len__(self) -> int:
        return len(self._open)

    def admit(self, address: str, abort: Callable[[], None]) -> Tracked | None:
        """Track a new connection, or None if it must be closed at once."""
        key = client_key(address)
        if self._per_key[key] >= self._per_client:
            self.refused += 1
            return None
        if len(self._open) >= self._total:
            if not self._idle:
                self.refused += 1
                return None
            _, victim = self._idle.popitem(last=False)
            self.evicted += 1
            self.remove(victim)
            victim.abort()
        tracked = Tracked(key, abort, since=self._clock())
        self._per_key[key] += 1
        self._open[id(tracked)] = tracked
        self._idle[id(tracked)] = tracked
        return tracked

    def busy(self, tracked: Tracked) -> None:
        tracked.busy = True
        self._idle.pop(id(tracked), None)

    def idle(self, tracked: Tracked) -> None:
        if not tracked.open:
            return
        tracked.busy = False
        tracked.since = self._clock()
        self._idle.pop(id(tracked), None)
        self._idle[id(tracked)] = tracked

    def remove(self, tracked: Tracked) -> None:
        """Forget a closed connection; safe to call twice."""
        if not tracked.open:
            return
        tracked.open = False
        self._idle.pop(id(tracked), None)
        del self._open[id(tracked)]
        self._per_key[tracked.key] -= 1
        if self._per_key[tracked.key] <= 0:
            del self._per_key[tracked.key]

    def abort_all(self) -> None:
        for tracked in list(self._open.values()):
            tracked.abort()
