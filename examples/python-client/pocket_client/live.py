"""Follows a Subscribe stream while online (PROTOCOL §5): applies each batch
and stores its checkpoint, stores heartbeat checkpoints, treats three
heartbeat intervals of silence as a dead stream, and subscribes again from
the last stored checkpoint whenever the stream ends (§5.4)."""
from __future__ import annotations

import asyncio
from contextlib import aclosing, suppress
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, cast

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from pocket.sync.v1 import sync_pb2 as pb

from .errors import Recovery, recovery, reraise_cancellation

if TYPE_CHECKING:
    from .engine import SyncEngine


class LiveStream:
    def __init__(self, engine: SyncEngine) -> None:
        self._engine = engine
        self._task: asyncio.Task[None] | None = None
        self.caught_up = False

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="pocket-live-stream")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        self.caught_up = False

    async def _run(self) -> None:
        engine = self._engine
        failures = 0
        while True:
            try:
                reached_live = await self._follow()
                # Ended by the server: again at once if it had caught up.
                failures = 0 if reached_live else failures + 1
            except ConnectError as error:
                reraise_cancellation(error)
                engine.note_error(error)
                if recovery(error) is Recovery.RESYNC:
                    try:
                        await engine.resync(error)
                        failures = 0
                        continue
                    except ConnectError as resync_error:
                        engine.note_error(resync_error)
                failures += 1
            finally:
                self.caught_up = False
            if failures:
                await asyncio.sleep(engine.config.retry.delay(failures))

    async def _follow(self) -> bool:
        """One stream, until it ends; returns whether it had caught up."""
        engine = self._engine
        interval_ms = engine.config.heartbeat_interval_ms
        request = pb.SubscribeRequest(
            collections=engine.config.collections,
            checkpoint=pb.Checkpoint() if engine.config.bug == "stream-from-start" else engine.replica.checkpoint(),
            client_id=engine.replica.client_id,
            heartbeat_interval_ms=interval_ms,
        )
        reached_live = False
        # connect-python returns an async generator: close it with the stream.
        subscription = cast("AsyncGenerator[pb.SubscribeResponse, None]", engine.rpc.subscribe(request, headers=engine.headers))
        async with aclosing(subscription) as stream:
            messages = aiter(stream)
            while True:
                try:
                    async with asyncio.timeout(3 * interval_ms / 1000):
                        message = await anext(messages)
                except StopAsyncIteration:
                    return reached_live
                except TimeoutError as error:
                    raise ConnectError(Code.DEADLINE_EXCEEDED, "no message for three heartbeat intervals") from error
                event = message.WhichOneof("event")
                if event == "changes":
                    batch = message.changes
                    engine.apply_remote(batch.changes, batch.checkpoint)
                    if batch.caught_up:
                        reached_live = self.caught_up = True
                elif event == "heartbeat" and message.heartbeat.HasField("checkpoint"):
                    engine.store_checkpoint(message.heartbeat.checkpoint)
