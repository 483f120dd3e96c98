"""Pushes the outbox and settles what the server answers for each change
(PROTOCOL §6, §7, §9.1)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from pocket.sync.v1 import sync_pb2 as pb

from . import documents
from .conflicts import ClientWins, Conflict, Resolution, ServerWins, Side, Strategy, settle
from .errors import has_reason
from .hlc import Timestamp
from .store import PendingChange, document_of

if TYPE_CHECKING:
    from .engine import SyncEngine, SyncResult

MAX_PUSH = 500  # changes per push (PROTOCOL §14)


async def push_outbox(engine: SyncEngine, result: SyncResult) -> None:
    """Pushes pending changes, oldest first, until none is left. Changes
    rebased after a Conflict go out in a later round of the same call; a
    change the server answered without settling it waits for the next sync,
    and so does a document that keeps conflicting: the rounds are bounded."""
    limit = MAX_PUSH
    rounds = 2 * (engine.replica.pending_count(engine.config.collections) // MAX_PUSH) + 10
    stuck: set[int] = set()  # client sequences answered but still pending
    for _ in range(rounds):
        pending = engine.replica.pending(engine.config.collections, limit + len(stuck))
        batch = [change for change in pending if change.client_sequence not in stuck][:limit]
        if not batch:
            return
        if engine.config.bug == "resequence":
            batch = [_resequenced(engine, change) for change in batch]
        engine.replica.mark_sent(batch)
        request = pb.PushRequest(client_id=engine.replica.client_id, changes=[_wire(engine, c) for c in batch])
        try:
            response = await engine.rpc.push(request, headers=engine.headers, timeout_ms=engine.config.call_timeout_ms)
        except ConnectError as error:
            # The RPC stack may refuse a large batch with the bare code
            # (§11): halve it and go again at once.
            if error.code == Code.RESOURCE_EXHAUSTED and len(batch) > 1 and not has_reason(error, pb.ERROR_REASON_TOO_LARGE):
                limit = (len(batch) + 1) // 2
                continue
            if engine.config.bug == "no-retry":
                for change in batch:
                    engine.replica.reject(change)
            raise
        if _settle_results(engine, batch, response.results, result) == 0:
            raise ConnectError(Code.INTERNAL, "the server answered none of the pushed changes")
        still = {change.client_sequence for change in engine.replica.pending(engine.config.collections)}
        stuck |= still & {change.client_sequence for change in batch}
    engine.last_error = "changes still pending after the push rounds of one sync (conflicting again?)"


def _wire(engine: SyncEngine, change: PendingChange) -> pb.ChangeEvent:
    wire = change.to_wire()
    if engine.config.bug == "stale-base":
        wire.base_revision = ""
    return wire


def _resequenced(engine: SyncEngine, change: PendingChange) -> PendingChange:
    if change.document is None:
        return change
    return engine.replica.write(change.collection, change.document_id, change.document)


def _settle_results(engine: SyncEngine, batch: list[PendingChange], results: Sequence[pb.ChangeResult], result: SyncResult) -> int:
    """Applies each change's outcome; returns how many were answered."""
    by_sequence = {change.client_sequence: change for change in batch}
    answered = 0
    for index, outcome in enumerate(results):
        # Results name their change; by position for a server that does not.
        key = outcome.client_sequence or (batch[index].client_sequence if index < len(batch) else 0)
        change = by_sequence.pop(key, None)
        if change is None:
            continue
        answered += 1
        kind = outcome.WhichOneof("outcome")
        if kind == "accepted":
            engine.replica.acknowledge(change, outcome.accepted.revision, outcome.accepted.server_sequence, engine.replica.client_id)
            result.pushed += 1
        elif kind in ("resolved", "conflict") and not getattr(outcome, kind).HasField("current"):
            # Nothing to adopt or to settle against: the change stays pending.
            engine.last_error = f"{change.collection}/{change.document_id}: {kind} without the current state"
        elif kind == "resolved":
            # The server settled it: adopt its state, never push it back (§7.2).
            if engine.config.bug == "ignore-resolved":
                engine.replica.reject(change)
            else:
                engine.replica.adopt(change, _identified(outcome.resolved.current, change))
            result.pushed += 1
        elif kind == "conflict":
            result.conflicts += 1
            _settle_conflict(engine, change, _identified(outcome.conflict.current, change))
        elif kind == "rejected":
            rejected = outcome.rejected
            engine.last_error = f"{change.collection}/{change.document_id} rejected: {rejected.reason} {rejected.message}"
            engine.replica.reject(change)
    return answered


def _settle_conflict(engine: SyncEngine, change: PendingChange, current: pb.ChangeEvent) -> None:
    """Resolves a Conflict with the client's strategy and queues the
    result on top of the server's revision, with a new client_sequence
    (§7.1); or adopts the server's state when it stands."""
    if engine.config.bug == "ignore-conflicts":
        engine.replica.reject(change)
        return
    server_text = document_of(current) if current.revision else None
    conflict = Conflict(
        client=Side(_parsed(change.document), change.timestamp, engine.replica.client_id),
        server=Side(_parsed(server_text), Timestamp.from_wire(current.timestamp), current.client_id),
        base=None if engine.config.bug == "two-way-merge" else _parsed(change.base_document),
    )
    if engine.config.bug == "always-local" and engine.config.strategy is Strategy.LAST_WRITE_WINS:
        resolution: Resolution = ClientWins()
    else:
        resolution = settle(engine.config.strategy, conflict)
    if isinstance(resolution, ServerWins):
        engine.replica.adopt(change, current)
    elif isinstance(resolution, ClientWins):
        engine.replica.rebase(change, current, change.document)  # the local text, byte for byte
    else:
        merged = resolution.document
        engine.replica.rebase(change, current, None if merged is None else documents.dumps(merged))


def _identified(current: pb.ChangeEvent, change: PendingChange) -> pb.ChangeEvent:
    """Conflict and Resolved carry the current state; make sure it names its document."""
    named = pb.ChangeEvent()
    named.CopyFrom(current)
    named.collection = named.collection or change.collection
    named.document_id = named.document_id or change.document_id
    return named


def _parsed(text: str | None) -> documents.JsonObject | None:
    return None if text is None else documents.parse(text)
