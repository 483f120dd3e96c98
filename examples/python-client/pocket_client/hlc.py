"""Hybrid logical clocks (PROTOCOL §10): timestamps that respect causality
even when wall clocks disagree, so last-write-wins picks the same winner on
every replica."""
from __future__ import annotations

import time
from typing import Callable, NamedTuple

from pocket.sync.v1 import sync_pb2 as pb

MAX_LOGICAL = 2**32 - 1  # HybridLogicalClock.logical is a uint32 on the wire


class Timestamp(NamedTuple):
    wall_time_ms: int
    logical: int

    @classmethod
    def from_wire(cls, ts: pb.HybridLogicalClock) -> Timestamp:
        return cls(ts.wall_time_ms, ts.logical)

    def to_wire(self) -> pb.HybridLogicalClock:
        return pb.HybridLogicalClock(wall_time_ms=self.wall_time_ms, logical=self.logical)


ZERO = Timestamp(0, 0)


def order_key(ts: Timestamp, client_id: str) -> tuple[int, int, bytes]:
    """Sorts (timestamp, client id) pairs as §10.1 does: wall time, then
    logical, then the client id compared as bytes."""
    return (ts.wall_time_ms, ts.logical, client_id.encode())


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class HybridLogicalClock:
    """Issues timestamps later than every timestamp it issued or observed."""

    def __init__(self, last: Timestamp = ZERO, wall_clock: Callable[[], int] = wall_clock_ms) -> None:
        self._last = last
        self._wall_clock = wall_clock

    @property
    def last(self) -> Timestamp:
        return self._last

    def now(self) -> Timestamp:
        """A timestamp for a local write (§10.2)."""
        physical = self._wall_clock()
        wall, logical = self._last
        if physical > wall:
            self._last = Timestamp(physical, 0)
        elif logical < MAX_LOGICAL:
            self._last = Timestamp(wall, logical + 1)
        else:
            # The counter is full: move wall time on by a millisecond rather
            # than wrap around and sort before earlier timestamps.
            self._last = Timestamp(wall + 1, 0)
        return self._last

    def observe(self, remote: Timestamp) -> None:
        """Takes in a received timestamp, so later local writes sort after it."""
        if remote > self._last:
            self._last = remote
