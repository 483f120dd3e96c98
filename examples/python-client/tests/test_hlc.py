"""The hybrid logical clock of PROTOCOL §10."""
from __future__ import annotations

from pocket_client.hlc import MAX_LOGICAL, HybridLogicalClock, Timestamp, order_key


class FakeWallClock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def test_a_moving_wall_clock_gives_its_time_with_logical_zero():
    wall = FakeWallClock(1000)
    clock = HybridLogicalClock(wall_clock=wall)
    assert clock.now() == Timestamp(1000, 0)
    wall.ms = 1005
    assert clock.now() == Timestamp(1005, 0)


def test_writes_within_one_millisecond_count_up_the_logical_part():
    clock = HybridLogicalClock(wall_clock=FakeWallClock(1000))
    stamps = [clock.now() for _ in range(3)]
    assert stamps == [Timestamp(1000, 0), Timestamp(1000, 1), Timestamp(1000, 2)]


def test_a_wall_clock_going_backwards_never_makes_an_earlier_timestamp():
    wall = FakeWallClock(5000)
    clock = HybridLogicalClock(wall_clock=wall)
    first = clock.now()
    wall.ms = 1000  # NTP stepped the clock back
    second = clock.now()
    assert second > first
    assert second == Timestamp(5000, 1)


def test_a_write_after_seeing_a_remote_change_is_later_whatever_the_clocks_say():
    # Our clock is an hour behind the writer of the change we receive (§10.2).
    clock = HybridLogicalClock(wall_clock=FakeWallClock(1_000))
    remote = Timestamp(3_600_000, 7)
    clock.observe(remote)
    local = clock.now()
    assert local > remote
    assert local == Timestamp(3_600_000, 8)


def test_observing_an_older_timestamp_changes_nothing():
    clock = HybridLogicalClock(Timestamp(2000, 3), wall_clock=FakeWallClock(0))
    clock.observe(Timestamp(1999, 9))
    clock.observe(Timestamp(2000, 2))
    assert clock.last == Timestamp(2000, 3)
    assert clock.now() == Timestamp(2000, 4)


def test_the_clock_resumes_from_its_stored_state():
    clock = HybridLogicalClock(Timestamp(9000, 4), wall_clock=FakeWallClock(10))
    assert clock.now() == Timestamp(9000, 5)


def test_a_full_logical_counter_moves_wall_time_on_instead_of_wrapping():
    clock = HybridLogicalClock(Timestamp(9000, MAX_LOGICAL), wall_clock=FakeWallClock(10))
    assert clock.now() == Timestamp(9001, 0)


def test_order_is_wall_time_then_logical_then_client_id_as_bytes():
    assert order_key(Timestamp(2, 0), "a") > order_key(Timestamp(1, 99), "z")
    assert order_key(Timestamp(1, 2), "a") > order_key(Timestamp(1, 1), "z")
    assert order_key(Timestamp(1, 1), "b") > order_key(Timestamp(1, 1), "a")
    # Bytes, not code points of a locale: "Z" (0x5a) sorts before "a" (0x61).
    assert order_key(Timestamp(1, 1), "a") > order_key(Timestamp(1, 1), "Z")


def test_timestamps_round_trip_the_wire():
    ts = Timestamp(1_700_000_000_123, 42)
    assert Timestamp.from_wire(ts.to_wire()) == ts
