"""A scripted stand-in for the server, for the engine's unit tests: each
call takes the next scripted answer (a response, an error to raise, or a
function of the request) and is recorded."""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from google.rpc import error_details_pb2

from pocket.sync.v1 import sync_pb2 as pb

Answer = Any  # a message, an exception, or a callable(request) -> message


class FakeSyncService:
    def __init__(self) -> None:
        self.answers: dict[str, deque[Answer]] = {"push": deque(), "pull": deque(), "subscribe": deque()}
        self.requests: dict[str, list[Any]] = {"push": [], "pull": [], "subscribe": []}

    def script(self, method: str, *answers: Answer) -> None:
        self.answers[method].extend(answers)

    async def _answer(self, method: str, request: Any) -> Any:
        self.requests[method].append(request)
        if not self.answers[method]:
            raise AssertionError(f"unexpected {method}: {request}")
        answer = self.answers[method].popleft()
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            answer = answer(request)
            if asyncio.iscoroutine(answer):
                answer = await answer
        return answer

    async def push(self, request: pb.PushRequest, **_: Any) -> pb.PushResponse:
        return await self._answer("push", request)

    async def pull(self, request: pb.PullRequest, **_: Any) -> pb.PullResponse:
        return await self._answer("pull", request)

    def subscribe(self, request: pb.SubscribeRequest, **_: Any) -> AsyncIterator[pb.SubscribeResponse]:
        """The scripted answer is a list of messages (then the stream ends),
        possibly ending with an exception or the string "hang"."""

        async def stream() -> AsyncIterator[pb.SubscribeResponse]:
            for item in await self._answer("subscribe", request):
                if isinstance(item, BaseException):
                    raise item
                if item == "hang":
                    await asyncio.Event().wait()
                yield item

        return stream()

    async def close(self) -> None:
        pass


def error(code: Code, reason: str = "", **metadata: str) -> ConnectError:
    details = [error_details_pb2.ErrorInfo(domain="sync.pocket.dev", reason=reason, metadata=metadata)] if reason else []
    return ConnectError(code, f"{code.value} {reason}", details=details)


def accept_all(revision_prefix: str = "r") -> Callable[[pb.PushRequest], pb.PushResponse]:
    """Accepts every change of a push, with revisions r<sequence>."""

    def answer(request: pb.PushRequest) -> pb.PushResponse:
        return pb.PushResponse(
            results=[
                pb.ChangeResult(
                    client_sequence=c.client_sequence,
                    accepted=pb.Accepted(revision=f"{revision_prefix}{c.client_sequence}", server_sequence=100 + c.client_sequence),
                )
                for c in request.changes
            ]
        )

    return answer


def page(*changes: pb.ChangeEvent, position: int, has_more: bool = False, collection: str = "todos") -> pb.PullResponse:
    return pb.PullResponse(
        changes=list(changes), has_more=has_more,
        checkpoint=pb.Checkpoint(server_sequence=position, collections={collection: position}, epoch="e1"),
    )


def change(document_id: str, document: str | None, revision: str, sequence: int, *, collection: str = "todos", wall: int = 1_000, client_id: str = "other") -> pb.ChangeEvent:
    return pb.ChangeEvent(
        operation=pb.OPERATION_DELETE if document is None else pb.OPERATION_UPDATE,
        collection=collection, document_id=document_id, document=document or "", revision=revision,
        client_id=client_id, server_sequence=sequence, deleted=document is None,
        timestamp=pb.HybridLogicalClock(wall_time_ms=wall),
    )
