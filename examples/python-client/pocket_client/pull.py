"""Pulls pages until caught up, and resyncs when the server asks
(PROTOCOL §4.7, §8.4, §9.4)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from connectrpc.errors import ConnectError

from pocket.sync.v1 import sync_pb2 as pb

from .errors import Recovery, recovery, resync_collections

if TYPE_CHECKING:
    from .engine import SyncEngine


async def _pull_page(engine: SyncEngine, checkpoint: pb.Checkpoint) -> pb.PullResponse:
    request = pb.PullRequest(
        collections=engine.config.collections, checkpoint=checkpoint, limit=engine.config.page_size, client_id=engine.replica.client_id
    )
    return await engine.rpc.pull(request, headers=engine.headers, timeout_ms=engine.config.call_timeout_ms)


async def pull_all(engine: SyncEngine) -> int:
    """Pulls pages from the stored checkpoint until has_more is false,
    each from the checkpoint of the page before (§4.7)."""
    checkpoint = engine.replica.checkpoint()
    pulled = 0
    while True:
        try:
            page = await _pull_page(engine, checkpoint)
        except ConnectError as error:
            if recovery(error) is not Recovery.RESYNC:
                raise
            return pulled + await resync(engine, resync_collections(error))
        engine.apply_remote(page.changes, page.checkpoint)
        pulled += len(page.changes)
        checkpoint = page.checkpoint
        if not page.has_more:
            return pulled


async def resync(engine: SyncEngine, named: list[str]) -> int:
    """Pulls the named collections from the beginning, then forgets every
    document of theirs that did not come back (§8.4). The checkpoint is
    stored only at the end, so a crash midway resyncs again."""
    everything = list(engine.config.collections)
    # Configured with no collections, the client follows every collection
    # (§4.8): a resync from scratch covers every local one and every one met.
    follows_all = not everything
    if follows_all:
        collections = list(named)
        partial = bool(collections)
    else:
        collections = [c for c in named if c in everything] or everything
        partial = set(collections) != set(everything)
    checkpoint = pb.Checkpoint()
    if partial:
        checkpoint.CopyFrom(engine.replica.checkpoint())
        for name in collections:
            del checkpoint.collections[name]
    elif follows_all:
        collections = engine.replica.local_collections()
    seen: dict[str, set[str]] = {name: set() for name in collections}
    grows = follows_all and not partial
    pulled = 0
    while True:
        try:
            page = await _pull_page(engine, checkpoint)
        except ConnectError as error:
            if recovery(error) is not Recovery.RESYNC or checkpoint == pb.Checkpoint():
                raise
            # The rest of the checkpoint is refused too (another epoch): everything from the beginning.
            seen, checkpoint, pulled = {name: set() for name in everything or engine.replica.local_collections()}, pb.Checkpoint(), 0
            grows = follows_all
            continue
        if grows:
            for change in page.changes:
                seen.setdefault(change.collection, set())
        engine.replica.apply_remote(page.changes, None, resync=frozenset(seen))
        for change in page.changes:
            if change.collection in seen:
                seen[change.collection].add(change.document_id)
        pulled += len(page.changes)
        checkpoint = page.checkpoint
        if not page.has_more:
            break
    if engine.config.bug == "no-resync":
        engine.store_checkpoint(checkpoint)
    elif engine.config.bug == "no-checkpoint":
        engine.replica.finish_resync(seen, engine.replica.checkpoint())
    else:
        engine.replica.finish_resync(seen, checkpoint)
    return pulled
