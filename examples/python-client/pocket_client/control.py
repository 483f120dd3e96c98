"""The conformance control protocol (proto/pocket/conformance/v1): the runner
writes length-prefixed ClientRequest frames to stdin and reads one
ClientResponse frame per request from stdout, so that

    npx tsx conformance/src/cli.ts client -- .venv/bin/python -m pocket_client control

judges this client by the same suite as every other. Commands run one at a
time, in order; logs go to stderr."""
from __future__ import annotations

import asyncio
import logging
import os
import struct
import sys
from typing import BinaryIO

from connectrpc.errors import ConnectError
from google.protobuf.message import Message

from pocket.conformance.v1 import control_pb2 as control

from .client import PocketClient
from .conflicts import Strategy
from .documents import InvalidDocument
from .engine import SyncConfig
from .store import LocalDocument

IMPLEMENTATION = "pocket-python-example 0.2"
log = logging.getLogger("pocket_client.control")

# The client suites this client passes: every one but "filters" (PROTOCOL
# §4.10), which it does not implement yet.
SUITES = [
    "push", "pull", "resume", "retry", "conflict-report", "conflict-resolved",
    "offline", "tombstones", "subscribe", "convergence", "every-collection",
]

STRATEGIES = {
    control.CONFLICT_STRATEGY_UNSPECIFIED: Strategy.LAST_WRITE_WINS,
    control.CONFLICT_STRATEGY_LOCAL_WINS: Strategy.CLIENT_WINS,
    control.CONFLICT_STRATEGY_REMOTE_WINS: Strategy.SERVER_WINS,
    control.CONFLICT_STRATEGY_LAST_WRITE_WINS: Strategy.LAST_WRITE_WINS,
    control.CONFLICT_STRATEGY_MERGE: Strategy.MERGE,
}
SYNC_MODES = {control.SYNC_MODE_UNSPECIFIED: False, control.SYNC_MODE_PULL: False, control.SYNC_MODE_SUBSCRIBE: True}


class CommandFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Controller:
    """Answers the runner's commands with one PocketClient."""

    def __init__(self, bug: str = "") -> None:
        self._bug = bug
        self._client: PocketClient | None = None

    async def handle(self, request: control.ClientRequest) -> control.ClientResponse:
        response = control.ClientResponse(request_id=request.request_id)
        command = request.WhichOneof("command")
        try:
            if command == "configure":
                response.configure.CopyFrom(await self._configure(request.configure))
            elif command == "shutdown":
                await self.close()
                response.shutdown.SetInParent()
            else:
                # Each result field is named after its command.
                getattr(response, command or "").CopyFrom(await self._run(request))
        except CommandFailed as failure:
            response.error.code, response.error.message = failure.code, str(failure)
        except ConnectError as error:
            response.error.code, response.error.message = error.code.value, error.message
        except InvalidDocument as error:
            response.error.code, response.error.message = "invalid_argument", str(error)
        except Exception as error:  # a bug here: report it, keep serving
            log.exception("%s failed", command)
            response.error.code, response.error.message = "internal", f"{type(error).__name__}: {error}"
        return response

    async def close(self) -> None:
        client, self._client = self._client, None
        if client:
            await client.close()

    async def _configure(self, c: control.Configure) -> control.ConfigureResult:
        if self._client:
            raise CommandFailed("failed_precondition", "already configured")
        if not c.data_dir:
            raise CommandFailed("invalid_argument", "configure needs a data_dir")
        if c.conflict_strategy not in STRATEGIES:
            raise CommandFailed("unimplemented", f"conflict strategy {c.conflict_strategy}")
        if c.sync_mode not in SYNC_MODES:
            raise CommandFailed("unimplemented", f"sync mode {c.sync_mode}")
        config = SyncConfig(
            server_url=c.server_url,
            collections=tuple(c.collections),
            token=c.token,
            strategy=STRATEGIES[c.conflict_strategy],
            live=SYNC_MODES[c.sync_mode],
            bug=self._bug,
        )
        self._client = await PocketClient.open(config, data_dir=c.data_dir, client_id=c.client_id, online=not c.start_offline)
        return control.ConfigureResult(
            implementation=IMPLEMENTATION,
            client_id=self._client.client_id,
            suites=SUITES,
            conflict_strategies=[s for s in STRATEGIES if s != control.CONFLICT_STRATEGY_UNSPECIFIED],
            sync_modes=[control.SYNC_MODE_PULL, control.SYNC_MODE_SUBSCRIBE],
        )

    async def _run(self, request: control.ClientRequest) -> Message:
        client = self._client
        if client is None:
            raise CommandFailed("failed_precondition", "configure first")
        command = request.WhichOneof("command")
        if command == "write_document":
            w = request.write_document
            client.put(w.collection, w.document_id, w.document)
            return control.WriteDocumentResult()
        if command == "delete_document":
            client.delete(request.delete_document.collection, request.delete_document.document_id)
            return control.DeleteDocumentResult()
        if command == "read_documents":
            r = request.read_documents
            if r.document_id:
                local = client.local(r.collection, r.document_id)
                found = [local] if local else []
            else:
                found = client.replica.documents(r.collection)
            return control.ReadDocumentsResult(documents=[_document(d) for d in found])
        if command == "sync_now":
            result = await client.sync()
            return control.SyncNowResult(pushed=result.pushed, pulled=result.pulled, conflicts=result.conflicts)
        if command == "set_online":
            await client.set_online(request.set_online.online)
            return control.SetOnlineResult()
        if command == "get_status":
            return control.GetStatusResult(
                client_id=client.client_id,
                online=client.online,
                pending_changes=client.pending_count,
                checkpoint=client.checkpoint,
                subscribed=client.engine.subscribed,
                last_error=client.engine.last_error,
            )
        if command == "crash":
            if request.crash.point != control.CRASH_POINT_AFTER_FIRST_WRITE_OF_PAGE:
                raise CommandFailed("unimplemented", f"crash point {request.crash.point}")
            # At once, as under kill -9: no cleanup, nothing more written.
            client.engine.crash_after_page_write = lambda: os._exit(137)
            return control.CrashResult()
        raise CommandFailed("unimplemented", f"unknown command {command}")

def _document(d: LocalDocument) -> control.Document:
    return control.Document(
        collection=d.collection, document_id=d.document_id, document=d.document or "",
        revision=d.revision, deleted=d.deleted, pending=d.pending,
    )


# ---------------------------------------------------------------- framing

FRAME_HEADER = struct.Struct(">I")


def frame(message: control.ClientResponse) -> bytes:
    body: bytes = message.SerializeToString()
    return FRAME_HEADER.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """One frame's body, or None when stdin closed."""
    try:
        (length,) = FRAME_HEADER.unpack(await reader.readexactly(FRAME_HEADER.size))
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        return None


async def serve(stdin: BinaryIO, stdout: BinaryIO, bug: str = "") -> None:
    """Answers frames from stdin on stdout until stdin closes or Shutdown."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    controller = Controller(bug)
    try:
        while (body := await read_frame(reader)) is not None:
            request = control.ClientRequest.FromString(body)
            response = await controller.handle(request)
            stdout.write(frame(response))
            stdout.flush()
            if request.WhichOneof("command") == "shutdown":
                return
    finally:
        await controller.close()


def main(bug: str = "") -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="python-client: %(levelname)s %(message)s")
    # stdout carries frames only: keep a private handle on it and send
    # anything else that writes to file descriptor 1 to stderr.
    frames = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    asyncio.run(serve(sys.stdin.buffer, frames, bug))
