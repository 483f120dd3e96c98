"""Client-side conflict strategies (PROTOCOL §7, §10), with the semantics of
common/src/conflicts.ts: the same inputs pick the same winner in every
implementation."""
from __future__ import annotations

import pytest

from pocket_client.conflicts import (
    ClientWins,
    Conflict,
    Merged,
    ServerWins,
    Side,
    Strategy,
    client_is_later,
    merge_documents,
    settle,
)
from pocket_client.hlc import Timestamp

EARLY, LATE = Timestamp(1_000, 0), Timestamp(2_000, 0)


def conflict(client, server, base=None, client_ts=LATE, server_ts=EARLY, client_id="client", server_id="server") -> Conflict:
    return Conflict(Side(client, client_ts, client_id), Side(server, server_ts, server_id), base)


# ---------------------------------------------------------------- last-write-wins


@pytest.mark.parametrize(
    ("client_ts", "server_ts", "client_id", "server_id", "client_later"),
    [
        (Timestamp(2000, 0), Timestamp(1000, 9), "a", "b", True),  # wall time first
        (Timestamp(1000, 0), Timestamp(2000, 0), "z", "a", False),
        (Timestamp(1000, 3), Timestamp(1000, 2), "a", "b", True),  # then the logical counter
        (Timestamp(1000, 2), Timestamp(1000, 3), "z", "a", False),
        (Timestamp(1000, 2), Timestamp(1000, 2), "b", "a", True),  # a tie: the client id as bytes
        (Timestamp(1000, 2), Timestamp(1000, 2), "a", "b", False),
    ],
)
def test_last_write_wins_orders_by_wall_time_logical_then_client_id(client_ts, server_ts, client_id, server_id, client_later):
    c = conflict({"v": "client"}, {"v": "server"}, client_ts=client_ts, server_ts=server_ts, client_id=client_id, server_id=server_id)
    assert client_is_later(c) is client_later
    assert settle(Strategy.LAST_WRITE_WINS, c) == (ClientWins() if client_later else ServerWins())


def test_a_later_local_delete_wins_over_an_edit_and_an_earlier_one_loses():
    assert settle(Strategy.LAST_WRITE_WINS, conflict(None, {"v": 1})) == ClientWins()
    assert settle(Strategy.LAST_WRITE_WINS, conflict(None, {"v": 1}, client_ts=EARLY, server_ts=LATE)) == ServerWins()


def test_local_wins_and_remote_wins_ignore_the_clocks():
    older_local = conflict({"v": "client"}, {"v": "server"}, client_ts=EARLY, server_ts=LATE)
    assert settle(Strategy.CLIENT_WINS, older_local) == ClientWins()
    assert settle(Strategy.SERVER_WINS, conflict({"v": "client"}, {"v": "server"})) == ServerWins()


def test_a_resolution_equal_to_the_server_state_pushes_nothing():
    assert settle(Strategy.CLIENT_WINS, conflict({"v": 1, "w": [1]}, {"w": [1], "v": 1.0})) == ServerWins()
    assert settle(Strategy.CLIENT_WINS, conflict(None, None)) == ServerWins()
    assert settle(Strategy.MERGE, conflict({"a": 1}, {"a": 1}, base={"a": 0})) == ServerWins()


# ---------------------------------------------------------------- merge


def test_three_way_merge_keeps_each_sides_own_changes_even_when_the_other_is_later():
    base = {"a": 1, "b": 1, "c": 1, "gone": 1}
    client = {"a": 1, "b": 3, "c": 1, "gone": 1, "new": "client"}  # changed b, added new
    server = {"a": 2, "b": 1, "c": 1}  # changed a, removed gone
    for client_ts, server_ts in [(LATE, EARLY), (EARLY, LATE)]:
        merged = merge_documents(conflict(client, server, base, client_ts=client_ts, server_ts=server_ts))
        assert merged == {"a": 2, "b": 3, "c": 1, "new": "client"}


def test_three_way_merge_gives_a_key_both_changed_to_the_later_change():
    base = {"k": 0, "x": 0}
    assert merge_documents(conflict({"k": "client", "x": 0}, {"k": "server", "x": 0}, base)) == {"k": "client", "x": 0}
    later_server = conflict({"k": "client", "x": 0}, {"k": "server", "x": 0}, base, client_ts=EARLY, server_ts=LATE)
    assert merge_documents(later_server) == {"k": "server", "x": 0}
    # Removing a key is a change too: the later side's choice stands.
    assert merge_documents(conflict({"x": 0}, {"k": "server", "x": 0}, base)) == {"x": 0}
    assert merge_documents(conflict({"x": 0}, {"k": "server", "x": 0}, base, client_ts=EARLY, server_ts=LATE)) == {"k": "server", "x": 0}


def test_three_way_merge_compares_values_as_json():
    base = {"n": 1, "flag": True, "deep": {"a": [1, {"b": None}]}}
    client = {"n": 1.0, "flag": 1, "deep": {"a": [1, {"b": None}]}}  # n unchanged; flag changed to a number
    server = {"n": 2, "flag": True, "deep": {"a": [1, {"b": 0}]}}
    merged = merge_documents(conflict(client, server, base, client_ts=EARLY, server_ts=LATE))
    assert merged == {"n": 2, "flag": 1, "deep": {"a": [1, {"b": 0}]}}
    assert type(merged["flag"]) is int


def test_two_way_merge_without_a_base_keeps_keys_only_one_side_has():
    merged = merge_documents(conflict({"shared": "client", "mine": 1}, {"shared": "server", "theirs": 2}, client_ts=EARLY, server_ts=LATE))
    assert merged == {"shared": "server", "theirs": 2, "mine": 1}


def test_merge_puts_server_keys_first_then_the_clients_new_ones():
    merged = merge_documents(conflict({"z": 1, "a": 1}, {"m": 1, "b": 1}))
    assert list(merged) == ["m", "b", "z", "a"]


def test_merge_settles_a_delete_against_an_edit_by_timestamp():
    assert merge_documents(conflict(None, {"v": 1}, {"v": 0})) is None
    assert merge_documents(conflict(None, {"v": 1}, {"v": 0}, client_ts=EARLY, server_ts=LATE)) == {"v": 1}
    assert merge_documents(conflict({"v": 1}, None, {"v": 0})) == {"v": 1}


def test_settle_merge_returns_the_merged_document():
    resolution = settle(Strategy.MERGE, conflict({"a": 1, "b": 3}, {"a": 2, "b": 1}, {"a": 1, "b": 1}))
    assert resolution == Merged({"a": 2, "b": 3})
