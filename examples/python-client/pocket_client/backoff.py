"""Exponential backoff with jitter between retries (PROTOCOL §9.6)."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # calls per operation before the error is reported
    base_delay_s: float = 0.1
    max_delay_s: float = 2.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The wait before retry number attempt (1-based): base * 2^(attempt-1),
        capped, with "equal jitter" (a random point in its upper half), so
        clients that failed together do not retry together."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + rand() * ceiling / 2
