"""The sync engine: runs a sync (push.py, then pull.py) with retries and
backoff, owns the connection and the online switch, and (in live mode)
follows a Subscribe stream while online (live.py)."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from connectrpc.errors import ConnectError

from pocket.sync.v1 import sync_pb2 as pb
from pocket.sync.v1.sync_connect import SyncServiceClient

from . import pull, push
from .backoff import RetryPolicy
from .conflicts import Strategy
from .errors import Offline, Recovery, recovery, reraise_cancellation, resync_collections
from .hlc import HybridLogicalClock, Timestamp
from .live import LiveStream
from .store import Replica

T = TypeVar("T")

# Deliberate bugs, for the conformance suite's own tests only: each breaks one
# rule so that the client suite judging it can be seen failing.
BUGS = {
    "stale-base": "pushes every change with an empty base revision (§6.2)",
    "echo": "pushes pulled changes back to the server (§9.3)",
    "no-checkpoint": "never stores a checkpoint (§9.4)",
    "resequence": "gives a change a new client_sequence on every attempt (§9.1)",
    "no-retry": "gives up pending changes after a failed push (§9.1)",
    "ignore-conflicts": "drops a change the server answered with Conflict (§7.1)",
    "ignore-resolved": "drops a Resolved change without adopting Resolved.current (§7.2)",
    "sync-offline": "calls the server while offline (§1)",
    "no-resync": "keeps documents a resync did not bring back (§8.4)",
    "stream-from-start": "subscribes from the beginning, not from the stored checkpoint (§5.4)",
    "ignore-remote-clock": "a clock that never observes received timestamps (§10.2)",
    "always-local": "last-write-wins that always keeps the local change (§10.1)",
    "two-way-merge": "merges without the base the client received (§7)",
    "checkpoint-first": "stores a page's checkpoint before its changes, in two writes (§9.4)",
    "skip-empty-pages": "does not store the checkpoint of a page without changes (§9.4)",
}


@dataclass(frozen=True)
class SyncConfig:
    server_url: str
    collections: tuple[str, ...]
    token: str = ""
    strategy: Strategy = Strategy.LAST_WRITE_WINS
    # Follow a Subscribe stream while online (otherwise pull only on sync()).
    live: bool = False
    page_size: int = 500
    call_timeout_ms: int = 30_000
    heartbeat_interval_ms: int = 5_000
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    bug: str = ""


@dataclass
class SyncResult:
    pushed: int = 0  # changes the server took (Accepted or Resolved)
    pulled: int = 0  # changes received by pulling
    conflicts: int = 0  # Conflict outcomes settled by this client's strategy


class SyncEngine:
    def __init__(self, replica: Replica, config: SyncConfig) -> None:
        if config.bug and config.bug not in BUGS:
            raise ValueError(f"unknown bug {config.bug!r}; known: {', '.join(BUGS)}")
        self.replica = replica
        self.config = config
        if config.bug == "ignore-remote-clock":
            replica.clock = _DeafClock(replica.clock.last)
        # No client-wide timeout: it would end Subscribe streams too.
        self.rpc = SyncServiceClient(config.server_url.rstrip("/"), send_compression=None)
        self.online = False
        self.last_error = ""
        self._lock = asyncio.Lock()  # one push/pull/resync at a time
        self._live = LiveStream(self) if config.live else None
        # Called right after each write of a received page (the control
        # protocol's Crash); it is expected not to return.
        self.crash_after_page_write: Callable[[], None] | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.config.token}"} if self.config.token else {}

    @property
    def subscribed(self) -> bool:
        """A Subscribe stream is open and caught up."""
        return self._live is not None and self._live.caught_up

    async def set_online(self, online: bool) -> None:
        """Offline, the engine makes no calls at all; online, it follows the
        live stream (in live mode)."""
        self.online = online
        if self._live:
            if online:
                self._live.start()
            else:
                await self._live.stop()

    async def close(self) -> None:
        await self.set_online(False)
        await self.rpc.close()

    def note_error(self, error: ConnectError) -> None:
        self.last_error = f"{error.code.value}: {error.message}"

    # ------------------------------------------------------------ sync

    async def sync(self) -> SyncResult:
        """Pushes the outbox (settling conflicts), then pulls until caught up.
        Failed calls are retried with backoff; pending changes keep their
        client sequences across retries and across failed syncs (§9.1)."""
        if not self.online and self.config.bug != "sync-offline":
            raise Offline()
        result = SyncResult()
        async with self._lock:
            try:
                await self._retrying(lambda: push.push_outbox(self, result))
                result.pulled += await self._retrying(lambda: pull.pull_all(self))
            except ConnectError as error:
                self.note_error(error)
                raise
        return result

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        policy = self.config.retry
        attempt = 0
        while True:
            attempt += 1
            try:
                return await call()
            except ConnectError as error:
                reraise_cancellation(error)
                self.note_error(error)
                if recovery(error) is not Recovery.RETRY or attempt >= policy.attempts:
                    raise
            await asyncio.sleep(policy.delay(attempt))

    # ------------------------------------------------------------ received changes

    def apply_remote(self, changes: Sequence[pb.ChangeEvent], checkpoint: pb.Checkpoint | None) -> None:
        """Applies received changes, then stores their checkpoint (§9.4)."""
        if self.config.bug == "skip-empty-pages" and not changes:
            checkpoint = None
        if self.config.bug == "checkpoint-first" and checkpoint is not None:
            self.replica.store_checkpoint(checkpoint)
            self._saved_page()
            checkpoint = None
        self.replica.apply_remote(changes, None if self.config.bug == "no-checkpoint" else checkpoint)
        self._saved_page()
        if self.config.bug == "echo":
            for change in changes:
                if not change.deleted and change.client_id != self.replica.client_id:
                    self.replica.write(change.collection, change.document_id, change.document)

    def _saved_page(self) -> None:
        if self.crash_after_page_write is not None:
            self.crash_after_page_write()

    def store_checkpoint(self, checkpoint: pb.Checkpoint) -> None:
        if self.config.bug != "no-checkpoint":
            self.replica.store_checkpoint(checkpoint)

    async def resync(self, error: ConnectError) -> None:
        """Resyncs after a live stream was refused with resync-required."""
        async with self._lock:
            await self._retrying(lambda: pull.resync(self, resync_collections(error)))


class _DeafClock(HybridLogicalClock):
    """The ignore-remote-clock bug: local time only."""

    def observe(self, remote: Timestamp) -> None:
        pass
