"""The local replica: outbox, server states, checkpoints, atomicity
(PROTOCOL §8.4, §9)."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pocket.sync.v1 import sync_pb2 as pb
from pocket_client.hlc import Timestamp
from pocket_client.store import Replica

from fakes import change as remote

C = "todos"


def checkpoint(position: int) -> pb.Checkpoint:
    return pb.Checkpoint(server_sequence=position, collections={C: position}, epoch="e1")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "replica.sqlite3"


@pytest.fixture
def replica(path: Path):
    r = Replica.open(path, "client-1")
    yield r
    r.close()


def test_a_new_document_is_queued_as_an_insert_with_an_empty_base(replica: Replica):
    change = replica.write(C, "a", '{"v":1}')
    assert (change.operation, change.base_revision, change.document) == (pb.OPERATION_INSERT, "", '{"v":1}')
    local = replica.get(C, "a")
    assert local is not None and local.pending and local.document == '{"v":1}' and local.revision == ""


def test_several_writes_leave_one_pending_change_with_the_latest_state_and_sequence(replica: Replica):
    sequences = [replica.write(C, "a", f'{{"v":{v}}}').client_sequence for v in range(4)]
    assert sequences == sorted(set(sequences))
    [pending] = replica.pending([C])
    assert (pending.document, pending.client_sequence, pending.operation) == ('{"v":3}', sequences[-1], pb.OPERATION_INSERT)


def test_client_sequences_keep_increasing_across_restarts(path: Path):
    first = Replica.open(path, "client-1")
    last = first.write(C, "a", "{}").client_sequence
    first.close()
    again = Replica.open(path, "another-id")
    assert again.client_id == "client-1"  # the replica keeps its id (§9.1)
    assert again.write(C, "b", "{}").client_sequence > last
    again.close()


def test_the_clock_survives_a_restart(path: Path):
    first = Replica.open(path)
    first.apply_remote([remote("a", "{}", "1-a", 1, wall=10**13)], checkpoint(1))
    first.close()
    again = Replica.open(path)
    assert again.write(C, "b", "{}").timestamp > Timestamp(10**13, 0)
    again.close()


def test_an_update_is_based_on_the_revision_last_received(replica: Replica):
    replica.apply_remote([remote("a", '{"v":1}', "1-a", 5)], checkpoint(5))
    change = replica.write(C, "a", '{"v":2}')
    assert (change.operation, change.base_revision, change.base_document) == (pb.OPERATION_UPDATE, "1-a", '{"v":1}')
    delete = replica.delete(C, "a")
    assert delete is not None
    assert (delete.operation, delete.base_revision, delete.document) == (pb.OPERATION_DELETE, "1-a", None)
    assert replica.pending_count([C]) == 1


def test_deleting_a_document_the_server_never_saw_leaves_nothing_to_push(replica: Replica):
    replica.write(C, "a", "{}")
    assert replica.delete(C, "a") is None
    assert replica.get(C, "a") is None
    assert replica.pending_count([C]) == 0


def test_deleting_a_document_whose_push_may_have_landed_still_pushes_the_delete(replica: Replica):
    # The insert went out but its answer was lost: the server may hold it.
    replica.mark_sent([replica.write(C, "a", "{}")])
    delete = replica.delete(C, "a")
    assert delete is not None and delete.operation == pb.OPERATION_DELETE
    # A later write keeps that knowledge too.
    assert replica.write(C, "a", '{"again":1}').sent


def test_a_pulled_change_never_overwrites_a_pending_local_change(replica: Replica):
    # §9.5: keep the local state and its base, so the push conflicts.
    replica.apply_remote([remote("a", '{"v":1}', "1-a", 1)], checkpoint(1))
    replica.write(C, "a", '{"v":"local"}')
    replica.apply_remote([remote("a", '{"v":"theirs"}', "2-b", 2)], checkpoint(2))
    local = replica.get(C, "a")
    assert local is not None and (local.document, local.revision, local.pending) == ('{"v":"local"}', "1-a", True)
    [pending] = replica.pending([C])
    assert pending.base_revision == "1-a"
    server = replica.server_state(C, "a")
    assert server is not None and server.revision == "2-b"
    # Writing again does not move the base either: the conflict must still surface.
    again = replica.write(C, "a", '{"v":"local again"}')
    assert (again.base_revision, again.base_document) == ("1-a", '{"v":1}')


def test_an_older_change_never_replaces_a_newer_one(replica: Replica):
    # A stream and a pull may deliver the same document out of order.
    replica.apply_remote([remote("a", '{"v":2}', "2-b", 9)], checkpoint(9))
    replica.apply_remote([remote("a", '{"v":1}', "1-a", 4)], checkpoint(4))
    local = replica.get(C, "a")
    assert local is not None and local.revision == "2-b"


def test_received_timestamps_move_the_clock(replica: Replica):
    future = 10**13
    replica.apply_remote([remote("a", "{}", "1-a", 1, wall=future)], checkpoint(1))
    assert replica.write(C, "b", "{}").timestamp > Timestamp(future, 0)


def test_accepted_changes_leave_the_outbox_with_their_revision(replica: Replica):
    change = replica.write(C, "a", '{"v":1}')
    replica.acknowledge(change, "1-a", 7, replica.client_id)
    local = replica.get(C, "a")
    assert local is not None and (local.document, local.revision, local.pending) == ('{"v":1}', "1-a", False)
    # The pull that brings our own change back is a no-op (§9.3).
    replica.apply_remote([remote("a", '{"v":1}', "1-a", 7, client_id=replica.client_id)], checkpoint(7))
    assert replica.pending_count([C]) == 0


def test_an_acceptance_for_a_replaced_change_moves_the_newer_changes_base(replica: Replica):
    first = replica.write(C, "a", '{"v":1}')
    second = replica.write(C, "a", '{"v":2}')  # written while the first was being pushed
    replica.acknowledge(first, "1-a", 3, replica.client_id)
    [pending] = replica.pending([C])
    assert (pending.client_sequence, pending.base_revision, pending.base_document) == (second.client_sequence, "1-a", '{"v":1}')


def test_an_acceptance_older_than_a_known_server_state_adopts_the_newer_state(replica: Replica):
    # Our push landed (seq 3) but its answer was lost; another user wrote on top
    # (seq 4) and a pull brought that while ours was pending. The retry's answer
    # must not roll the document back to seq 3, which no pull will bring again.
    change = replica.write(C, "a", '{"v":"mine"}')
    replica.apply_remote([remote("a", '{"v":"theirs"}', "2-b", 4)], checkpoint(4))
    replica.acknowledge(change, "1-a", 3, replica.client_id)
    local = replica.get(C, "a")
    assert local is not None and (local.document, local.revision, local.pending) == ('{"v":"theirs"}', "2-b", False)


def test_adopting_the_server_state_drops_the_local_change(replica: Replica):
    change = replica.write(C, "a", '{"v":"mine"}')
    replica.adopt(change, remote("a", '{"v":"server"}', "3-c", 8))
    local = replica.get(C, "a")
    assert local is not None and (local.document, local.revision, local.pending) == ('{"v":"server"}', "3-c", False)


def test_a_rebased_change_has_a_new_sequence_and_builds_on_the_servers_revision(replica: Replica):
    change = replica.write(C, "a", '{"v":"mine"}')
    current = remote("a", '{"v":"server"}', "3-c", 8, wall=10**13)
    rebased = replica.rebase(change, current, '{"v":"merged"}')
    assert rebased is not None
    assert rebased.client_sequence > change.client_sequence
    assert (rebased.base_revision, rebased.base_document, rebased.operation) == ("3-c", '{"v":"server"}', pb.OPERATION_UPDATE)
    assert rebased.timestamp > Timestamp(10**13, 0)  # later than the change it settles
    assert replica.pending([C]) == [rebased]


def test_a_change_replaced_meanwhile_is_not_rebased(replica: Replica):
    change = replica.write(C, "a", '{"v":1}')
    newer = replica.write(C, "a", '{"v":2}')
    assert replica.rebase(change, remote("a", "{}", "3-c", 8), '{"v":1}') is None
    assert replica.pending([C]) == [newer]


def test_a_rejected_change_falls_back_to_the_last_server_state(replica: Replica):
    replica.apply_remote([remote("a", '{"v":1}', "1-a", 1)], checkpoint(1))
    replica.reject(replica.write(C, "a", '{"v":"refused"}'))
    local = replica.get(C, "a")
    assert local is not None and (local.document, local.pending) == ('{"v":1}', False)
    replica.reject(replica.write(C, "new", "{}"))
    assert replica.get(C, "new") is None


def test_finishing_a_resync_forgets_what_did_not_come_back_but_keeps_pending_changes(replica: Replica):
    replica.apply_remote([remote("keep", "{}", "1-a", 1), remote("gone", "{}", "1-b", 2), remote("edited", "{}", "1-c", 3)], checkpoint(3))
    replica.write(C, "edited", '{"local":1}')
    replica.write(C, "new", '{"local":2}')
    replica.apply_remote([remote("keep", "{}", "1-a", 1)], None, resync=[C])
    replica.finish_resync({C: {"keep"}}, checkpoint(10))
    assert [d.document_id for d in replica.documents(C)] == ["edited", "keep", "new"]
    assert replica.checkpoint() == checkpoint(10)


def test_a_resync_takes_changes_whatever_their_sequence(replica: Replica):
    # After an epoch change sequences restart: seq 2 of the new epoch is newer than seq 9 of the old.
    replica.apply_remote([remote("a", '{"v":"old epoch"}', "1-a", 9)], checkpoint(9))
    replica.apply_remote([remote("a", '{"v":"new epoch"}', "1-z", 2)], None, resync=[C])
    local = replica.get(C, "a")
    assert local is not None and local.document == '{"v":"new epoch"}'


def test_a_checkpoint_is_stored_as_received_and_only_with_its_changes(replica: Replica, monkeypatch: pytest.MonkeyPatch):
    assert replica.checkpoint() == pb.Checkpoint()
    replica.apply_remote([remote("a", "{}", "1-a", 1)], checkpoint(1))
    assert replica.checkpoint() == checkpoint(1)

    # A crash between applying the changes and storing the checkpoint leaves neither (§9.4).
    def crash(*_: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(replica, "_store_checkpoint", crash)
    with pytest.raises(sqlite3.OperationalError):
        replica.apply_remote([remote("b", "{}", "1-b", 2)], checkpoint(2))
    assert replica.get(C, "b") is None
    assert replica.checkpoint() == checkpoint(1)


def test_a_failed_local_write_leaves_no_outbox_entry(replica: Replica, monkeypatch: pytest.MonkeyPatch):
    def crash(**_: object) -> None:
        raise sqlite3.OperationalError("disk full")

    monkeypatch.setattr(replica, "_set_meta", crash)
    with pytest.raises(sqlite3.OperationalError):
        replica.write(C, "a", "{}")
    assert replica.get(C, "a") is None and replica.pending_count([C]) == 0
