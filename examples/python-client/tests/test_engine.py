"""The sync engine against a scripted server: retries, conflicts, resync and
the live stream, including the failures a real server rarely produces on cue."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from pocket.sync.v1 import sync_pb2 as pb
from pocket_client.backoff import RetryPolicy
from pocket_client.conflicts import Strategy
from pocket_client.engine import SyncConfig, SyncEngine
from pocket_client.errors import Offline
from pocket_client.store import Replica

from fakes import FakeSyncService, accept_all, change, error, page

C = "todos"
T = TypeVar("T")
FAST = RetryPolicy(attempts=4, base_delay_s=0.001, max_delay_s=0.01)


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(scenario())


@pytest.fixture
def replica(tmp_path: Path):
    r = Replica.open(tmp_path / "replica.sqlite3", "me")
    yield r
    r.close()


def engine_for(replica: Replica, **settings: object) -> tuple[SyncEngine, FakeSyncService]:
    config = SyncConfig("http://fake", collections=(C,), retry=FAST, **settings)  # type: ignore[arg-type]
    engine = SyncEngine(replica, config)
    fake = FakeSyncService()
    engine.rpc = fake  # type: ignore[assignment]
    engine.online = True
    return engine, fake


def sequences(fake: FakeSyncService) -> list[list[int]]:
    return [[c.client_sequence for c in r.changes] for r in fake.requests["push"]]


# ---------------------------------------------------------------- push and retries


def test_failed_pushes_are_retried_with_the_same_client_sequence(replica: Replica):
    engine, fake = engine_for(replica)
    replica.write(C, "a", '{"v":1}')
    fake.script("push", error(Code.UNAVAILABLE, "ERROR_REASON_UNAVAILABLE"), error(Code.DEADLINE_EXCEEDED), accept_all())
    fake.script("pull", page(position=1))
    result = run(engine.sync)
    assert result.pushed == 1
    assert len(set(map(tuple, sequences(fake)))) == 1 and len(sequences(fake)) == 3
    assert replica.pending_count([C]) == 0


def test_a_change_still_failing_after_every_attempt_stays_pending_with_its_sequence(replica: Replica):
    # More consecutive failures than one sync retries: nothing is dropped (§9.1).
    engine, fake = engine_for(replica)
    replica.write(C, "a", '{"v":1}')
    fake.script("push", *[error(Code.UNAVAILABLE)] * FAST.attempts)
    with pytest.raises(ConnectError):
        run(engine.sync)
    assert replica.pending_count([C]) == 1
    assert "unavailable" in engine.last_error
    fake.script("push", accept_all())
    fake.script("pull", page(position=1))
    run(engine.sync)
    assert len({s[0] for s in sequences(fake)}) == 1
    assert replica.pending_count([C]) == 0


def test_an_error_retrying_cannot_fix_is_reported_at_once(replica: Replica):
    engine, fake = engine_for(replica)
    replica.write(C, "a", "{}")
    fake.script("push", error(Code.PERMISSION_DENIED, "ERROR_REASON_PERMISSION_DENIED"))
    with pytest.raises(ConnectError) as refused:
        run(engine.sync)
    assert refused.value.code == Code.PERMISSION_DENIED
    assert len(fake.requests["push"]) == 1
    assert replica.pending_count([C]) == 1


def test_a_batch_the_rpc_stack_refuses_as_too_large_is_halved(replica: Replica):
    engine, fake = engine_for(replica)
    for i in range(5):
        replica.write(C, f"d{i}", "{}")
    fake.script("push", error(Code.RESOURCE_EXHAUSTED), accept_all(), accept_all())
    fake.script("pull", page(position=1))
    run(engine.sync)
    assert [len(s) for s in sequences(fake)] == [5, 3, 2]


def test_a_document_too_large_for_the_server_is_not_retried(replica: Replica):
    engine, fake = engine_for(replica)
    replica.write(C, "big", "{}")
    fake.script("push", error(Code.RESOURCE_EXHAUSTED, "ERROR_REASON_TOO_LARGE"))
    with pytest.raises(ConnectError):
        run(engine.sync)
    assert len(fake.requests["push"]) == 1


def test_an_offline_engine_makes_no_call(replica: Replica):
    engine, fake = engine_for(replica)
    engine.online = False
    replica.write(C, "a", "{}")
    with pytest.raises(Offline):
        run(engine.sync)
    assert fake.requests == {"push": [], "pull": [], "subscribe": []}


def test_a_rejected_change_is_dropped_and_reported(replica: Replica):
    engine, fake = engine_for(replica)
    replica.write(C, "a", "{}")
    rejected = pb.Rejected(code=3, reason="ERROR_REASON_INVALID_DOCUMENT", message="bad")
    fake.script("push", lambda r: pb.PushResponse(results=[pb.ChangeResult(client_sequence=r.changes[0].client_sequence, rejected=rejected)]))
    fake.script("pull", page(position=1))
    run(engine.sync)
    assert replica.get(C, "a") is None
    assert "ERROR_REASON_INVALID_DOCUMENT" in engine.last_error


# ---------------------------------------------------------------- conflicts


def conflict_scene(replica: Replica, engine: SyncEngine, fake: FakeSyncService, current: pb.ChangeEvent) -> None:
    """The client has v1 and writes {"a":1,"b":3}; the server answers Conflict with current."""
    engine.apply_remote([change("x", '{"a":1,"b":1}', "1-a", 1)], page(position=1).checkpoint)
    replica.write(C, "x", '{"a":1,"b":3}')

    def conflict(request: pb.PushRequest) -> pb.PushResponse:
        return pb.PushResponse(results=[pb.ChangeResult(client_sequence=request.changes[0].client_sequence, conflict=pb.Conflict(current=current))])

    fake.script("push", conflict, accept_all())
    fake.script("pull", page(position=3))


@pytest.mark.parametrize(
    ("strategy", "server_wall", "pushed_again"),
    [
        (Strategy.CLIENT_WINS, 10**15, '{"a":1,"b":3}'),  # local wins even against a later server write
        (Strategy.LAST_WRITE_WINS, 1, '{"a":1,"b":3}'),
        (Strategy.MERGE, 10**15, '{"a":2,"b":3}'),  # three-way: each side keeps its own change
    ],
)
def test_a_conflict_settled_for_the_client_is_pushed_on_the_servers_revision(replica: Replica, strategy: Strategy, server_wall: int, pushed_again: str):
    engine, fake = engine_for(replica, strategy=strategy)
    conflict_scene(replica, engine, fake, change("x", '{"a":2,"b":1}', "2-b", 2, wall=server_wall))
    result = run(engine.sync)
    first, second = (r.changes[0] for r in fake.requests["push"])
    assert (second.base_revision, second.operation, second.document) == ("2-b", pb.OPERATION_UPDATE, pushed_again)
    assert second.client_sequence > first.client_sequence
    assert result.conflicts == 1 and result.pushed == 1
    local = replica.get(C, "x")
    assert local is not None and (local.document, local.pending) == (pushed_again, False)


@pytest.mark.parametrize("strategy", [Strategy.SERVER_WINS, Strategy.LAST_WRITE_WINS])
def test_a_conflict_settled_for_the_server_adopts_its_state_and_pushes_nothing(replica: Replica, strategy: Strategy):
    engine, fake = engine_for(replica, strategy=strategy)
    # A server change far in the future is later than the local write.
    conflict_scene(replica, engine, fake, change("x", '{"a":2,"b":1}', "2-b", 2, wall=10**15))
    fake.answers["push"].pop()  # no second push
    run(engine.sync)
    assert len(fake.requests["push"]) == 1
    local = replica.get(C, "x")
    assert local is not None and (local.document, local.revision, local.pending) == ('{"a":2,"b":1}', "2-b", False)


def test_resolved_current_is_adopted_without_pushing_it_back(replica: Replica):
    engine, fake = engine_for(replica)
    replica.write(C, "x", '{"v":"mine"}')
    current = change("", '{"v":"merged"}', "5-e", 5)  # a server that does not repeat the document's name
    current.ClearField("collection")
    fake.script("push", lambda r: pb.PushResponse(results=[pb.ChangeResult(client_sequence=r.changes[0].client_sequence, resolved=pb.Resolved(current=current))]))
    fake.script("pull", page(position=5))
    run(engine.sync)
    local = replica.get(C, "x")
    assert local is not None and (local.document, local.revision, local.pending) == ('{"v":"merged"}', "5-e", False)


def test_an_outcome_without_the_current_state_leaves_the_change_pending(replica: Replica):
    # Adopting an empty state would delete the document locally.
    engine, fake = engine_for(replica)
    replica.write(C, "x", '{"v":"mine"}')
    empty = lambda r: pb.PushResponse(results=[pb.ChangeResult(client_sequence=r.changes[0].client_sequence, resolved=pb.Resolved())])  # noqa: E731
    fake.script("push", empty)  # and not sent again within this sync
    fake.script("pull", page(position=1))
    run(engine.sync)
    local = replica.get(C, "x")
    assert local is not None and (local.document, local.pending) == ('{"v":"mine"}', True)
    assert "without the current state" in engine.last_error


# ---------------------------------------------------------------- pull and resync


def test_pages_are_pulled_each_from_the_checkpoint_of_the_one_before(replica: Replica):
    engine, fake = engine_for(replica)
    fake.script("pull", page(change("a", "{}", "1-a", 1), position=1, has_more=True), page(position=2))
    assert run(engine.sync).pulled == 1
    first, second = fake.requests["pull"]
    assert first.checkpoint == pb.Checkpoint()
    assert second.checkpoint == page(position=1).checkpoint
    assert replica.checkpoint() == page(position=2).checkpoint  # an empty page's checkpoint is stored too


def test_a_failed_page_resumes_from_the_last_stored_checkpoint(replica: Replica):
    engine, fake = engine_for(replica)
    fake.script("pull", page(change("a", "{}", "1-a", 1), position=1, has_more=True), error(Code.UNAVAILABLE), page(position=2))
    run(engine.sync)
    assert fake.requests["pull"][2].checkpoint == page(position=1).checkpoint


def resync_required(*collections: str) -> ConnectError:
    return error(Code.FAILED_PRECONDITION, "ERROR_REASON_RESYNC_REQUIRED", collections=",".join(collections))


def test_a_resync_over_several_pages_that_fails_midway_resyncs_again_from_the_start(replica: Replica):
    engine, fake = engine_for(replica)
    engine.apply_remote([change("keep", "{}", "1-a", 1), change("gone", "{}", "1-b", 2)], page(position=2).checkpoint)
    stored = replica.checkpoint()
    fake.script(
        "pull",
        resync_required(C),
        page(change("keep", "{}", "1-a", 1), position=5, has_more=True),
        *[error(Code.UNAVAILABLE)] * FAST.attempts,  # the second page never comes
    )
    with pytest.raises(ConnectError):
        run(engine.sync)
    # Nothing was concluded from the half-done resync: no deletion, old checkpoint.
    assert replica.get(C, "gone") is not None
    assert replica.checkpoint() == stored
    fake.script(
        "pull",
        resync_required(C),
        page(change("keep", "{}", "1-a", 1), position=5, has_more=True),
        page(change("new", "{}", "1-c", 6), position=6),
    )
    run(engine.sync)
    assert [d.document_id for d in replica.documents(C)] == ["keep", "new"]
    assert replica.checkpoint() == page(position=6).checkpoint
    assert fake.requests["pull"][-2].checkpoint == pb.Checkpoint()


def test_a_resync_of_some_collections_keeps_the_others_positions(replica: Replica):
    config = SyncConfig("http://fake", collections=("todos", "notes"), retry=FAST)
    engine = SyncEngine(replica, config)
    fake = FakeSyncService()
    engine.rpc, engine.online = fake, True  # type: ignore[assignment]
    replica.apply_remote([], pb.Checkpoint(server_sequence=9, collections={"todos": 9, "notes": 7}, epoch="e1"))
    fake.script("pull", resync_required("todos"), page(position=12))
    run(engine.sync)
    assert fake.requests["pull"][1].checkpoint == pb.Checkpoint(server_sequence=9, collections={"notes": 7}, epoch="e1")


def test_a_resync_refused_again_starts_over_from_the_empty_checkpoint(replica: Replica):
    # Another epoch: the rest of the checkpoint is refused too.
    config = SyncConfig("http://fake", collections=("todos", "notes"), retry=FAST)
    engine = SyncEngine(replica, config)
    fake = FakeSyncService()
    engine.rpc, engine.online = fake, True  # type: ignore[assignment]
    replica.apply_remote([change("old", "{}", "1-a", 3, collection="notes")], pb.Checkpoint(collections={"todos": 9, "notes": 7}, epoch="e1"))
    fake.script("pull", resync_required("todos"), resync_required("todos", "notes"), page(position=2))
    run(engine.sync)
    assert fake.requests["pull"][2].checkpoint == pb.Checkpoint()
    assert replica.documents("notes") == []


# ---------------------------------------------------------------- the live stream


def batch(*changes: pb.ChangeEvent, position: int, caught_up: bool = True) -> pb.SubscribeResponse:
    return pb.SubscribeResponse(changes=pb.ChangeBatch(changes=list(changes), checkpoint=page(position=position).checkpoint, caught_up=caught_up))


def heartbeat(position: int) -> pb.SubscribeResponse:
    return pb.SubscribeResponse(heartbeat=pb.Heartbeat(checkpoint=page(position=position).checkpoint))


async def until(condition: Callable[[], bool], timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def test_the_stream_applies_batches_stores_heartbeat_checkpoints_and_resumes_after_an_end(replica: Replica):
    engine, fake = engine_for(replica, live=True)
    fake.script(
        "subscribe",
        [batch(change("a", "{}", "1-a", 1), position=1), heartbeat(4)],  # then the server ends it
        [error(Code.UNAVAILABLE)],
        ["hang"],
    )

    async def scenario() -> None:
        await engine.set_online(True)
        await until(lambda: len(fake.requests["subscribe"]) == 3)
        await engine.set_online(False)

    run(scenario)
    assert replica.get(C, "a") is not None
    first, second, third = fake.requests["subscribe"]
    assert first.checkpoint == pb.Checkpoint()
    assert second.checkpoint == page(position=4).checkpoint  # from the heartbeat
    assert third.checkpoint == page(position=4).checkpoint


def test_a_silent_stream_is_given_up_after_three_heartbeat_intervals(replica: Replica):
    engine, fake = engine_for(replica, live=True, heartbeat_interval_ms=50)
    fake.script("subscribe", [batch(position=1), "hang"], ["hang"])

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        await engine.set_online(True)
        await until(lambda: engine.subscribed)
        started = loop.time()
        await until(lambda: len(fake.requests["subscribe"]) == 2)
        waited = loop.time() - started
        await engine.set_online(False)
        return waited

    assert 0.1 < run(scenario) < 2
    assert "three heartbeat intervals" in engine.last_error


def test_a_stream_refused_with_resync_required_resyncs_then_subscribes_again(replica: Replica):
    engine, fake = engine_for(replica, live=True)
    engine.apply_remote([change("gone", "{}", "1-b", 2)], page(position=2).checkpoint)
    fake.script("subscribe", [resync_required(C)], ["hang"])
    fake.script("pull", page(change("keep", "{}", "1-a", 3), position=3))

    async def scenario() -> None:
        await engine.set_online(True)
        await until(lambda: len(fake.requests["subscribe"]) == 2)
        await engine.set_online(False)

    run(scenario)
    assert [d.document_id for d in replica.documents(C)] == ["keep"]
    assert fake.requests["subscribe"][1].checkpoint == page(position=3).checkpoint


def test_going_offline_during_a_call_stops_without_retrying(replica: Replica):
    # connect-python reports a cancelled call as a CANCELED error, which is
    # retryable: the engine must notice that it was cancelled itself.
    engine, fake = engine_for(replica, live=True)
    fake.script("subscribe", [resync_required(C)])

    async def cancelled_pull(_: pb.PullRequest) -> pb.PullResponse:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise ConnectError(Code.CANCELED, "Request was cancelled") from None
        raise AssertionError("unreachable")

    fake.script("pull", cancelled_pull)

    async def scenario() -> None:
        await engine.set_online(True)
        await until(lambda: len(fake.requests["pull"]) == 1)
        await engine.set_online(False)
        await asyncio.sleep(0.1)

    run(scenario)
    assert len(fake.requests["pull"]) == 1
