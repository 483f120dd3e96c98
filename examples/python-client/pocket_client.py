"""A small Pocket Sync client in Python, on the generated stubs (gen/python)
and the connectrpc runtime: it pushes local changes, pulls everyone's changes
page by page from a stored checkpoint, and follows a Subscribe stream.

    client = PocketClient("http://127.0.0.1:8080", token="T", client_id="py-1")
    client.put("todos", "a", {"title": "Buy milk"})
    client.push()
    client.pull(["todos"])
    for batch in client.subscribe(["todos"]): ...
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator

from connectrpc.errors import ConnectError

from pocket.sync.v1 import sync_pb2 as pb
from pocket.sync.v1.sync_connect import SyncServiceClientSync


@dataclass
class LocalDoc:
    document: dict[str, Any] | None
    revision: str = ""


@dataclass
class PocketClient:
    """A replica of some collections in memory, synced over the wire protocol."""

    url: str
    token: str = ""
    client_id: str = field(default_factory=lambda: f"py-{uuid.uuid4().hex}")
    docs: dict[tuple[str, str], LocalDoc] = field(default_factory=dict)
    checkpoint: pb.Checkpoint = field(default_factory=pb.Checkpoint)
    _outbox: dict[tuple[str, str], pb.ChangeEvent] = field(default_factory=dict)
    _sequence: int = 0
    _clock: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        self.rpc = SyncServiceClientSync(self.url, send_compression=None)

    def _headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"} if self.token else {}

    def _tick(self) -> pb.HybridLogicalClock:
        # Hybrid logical clock (PROTOCOL §10.2).
        now = int(time.time() * 1000)
        wall, logical = self._clock
        self._clock = (now, 0) if now > wall else (wall, logical + 1)
        return pb.HybridLogicalClock(wall_time_ms=self._clock[0], logical=self._clock[1])

    def _queue(self, collection: str, doc_id: str, operation: int, text: str) -> None:
        self._sequence += 1
        base = self.docs.get((collection, doc_id), LocalDoc(None)).revision
        if operation != pb.OPERATION_DELETE:
            operation = pb.OPERATION_UPDATE if base else pb.OPERATION_INSERT
        self._outbox[(collection, doc_id)] = pb.ChangeEvent(
            operation=operation, collection=collection, document_id=doc_id, document=text,
            base_revision=base, client_sequence=self._sequence, timestamp=self._tick(),
        )

    def put(self, collection: str, doc_id: str, document: dict[str, Any]) -> None:
        """Writes a document locally; push() sends it."""
        clean = {k: v for k, v in document.items() if k not in ("_id", "_rev", "_deleted")}
        self._queue(collection, doc_id, pb.OPERATION_UPDATE, json.dumps(clean, separators=(",", ":")))
        self.docs.setdefault((collection, doc_id), LocalDoc(None)).document = clean

    def delete(self, collection: str, doc_id: str) -> None:
        self._queue(collection, doc_id, pb.OPERATION_DELETE, "")
        self.docs.setdefault((collection, doc_id), LocalDoc(None)).document = None

    def push(self) -> pb.PushResponse | None:
        """Pushes the outbox once; accepted and resolved changes leave it."""
        if not self._outbox:
            return None
        keys = sorted(self._outbox, key=lambda k: self._outbox[k].client_sequence)
        request = pb.PushRequest(client_id=self.client_id, changes=[self._outbox[k] for k in keys])
        response = self.rpc.push(request, headers=self._headers())
        for key, result in zip(keys, response.results):
            outcome = result.WhichOneof("outcome")
            local = self.docs[key]
            if outcome == "accepted":
                local.revision = result.accepted.revision
                del self._outbox[key]
            elif outcome in ("resolved", "conflict"):
                # Resolved: adopt the server's state (§7.2). Conflict: this
                # small client lets the server's version win (§7.1).
                current = getattr(result, outcome).current
                self._adopt(key, current)
                del self._outbox[key]
            else:
                raise RuntimeError(f"{key} rejected: {result.rejected.reason} {result.rejected.message}")
        return response

    def _adopt(self, key: tuple[str, str], change: pb.ChangeEvent) -> None:
        local = self.docs.setdefault(key, LocalDoc(None))
        local.revision = change.revision
        local.document = None if change.deleted else json.loads(change.document)

    def _apply(self, changes: Iterator[pb.ChangeEvent] | list[pb.ChangeEvent]) -> int:
        n = 0
        for change in changes:
            key = (change.collection, change.document_id)
            n += 1
            if key in self._outbox:
                continue  # a pending local change keeps its state and base (§9.5)
            if self.docs.get(key, LocalDoc(None)).revision == change.revision:
                continue  # already applied (§9.3)
            self._adopt(key, change)
        return n

    def pull(self, collections: list[str], limit: int = 0) -> int:
        """Pulls until has_more is false; returns the number of changes received."""
        received = 0
        while True:
            page = self.rpc.pull(
                pb.PullRequest(collections=collections, checkpoint=self.checkpoint, limit=limit, client_id=self.client_id),
                headers=self._headers(),
            )
            received += self._apply(page.changes)
            self.checkpoint = page.checkpoint  # stored only after applying (§9.4)
            if not page.has_more:
                return received

    def subscribe(self, collections: list[str], heartbeat_ms: int = 0, timeout_ms: int | None = None) -> Iterator[pb.SubscribeResponse]:
        """Follows the live stream from the stored checkpoint, applying every batch."""
        stream = self.rpc.subscribe(
            pb.SubscribeRequest(collections=collections, checkpoint=self.checkpoint, client_id=self.client_id, heartbeat_interval_ms=heartbeat_ms),
            headers=self._headers(),
            timeout_ms=timeout_ms,
        )
        for message in stream:
            if message.WhichOneof("event") == "changes":
                self._apply(message.changes.changes)
                self.checkpoint = message.changes.checkpoint
            yield message

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        local = self.docs.get((collection, doc_id))
        return local.document if local else None


__all__ = ["PocketClient", "ConnectError"]
