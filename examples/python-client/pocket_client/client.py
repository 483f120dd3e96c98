"""The application's view: a local-first replica of some collections that
reads and writes without the network and syncs with a Pocket Sync server."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from pocket.sync.v1 import sync_pb2 as pb

from . import documents
from .engine import SyncConfig, SyncEngine, SyncResult
from .store import LocalDocument, Replica

DATABASE_FILE = "replica.sqlite3"


class PocketClient:
    """
        config = SyncConfig("http://127.0.0.1:8080", collections=("todos",), token="T")
        async with await PocketClient.open(config, data_dir="./replica") as client:
            client.put("todos", "a", {"title": "Buy milk"})
            await client.sync()
            print(client.get("todos", "a"))
    """

    def __init__(self, replica: Replica, engine: SyncEngine) -> None:
        self.replica = replica
        self.engine = engine

    @classmethod
    async def open(
        cls, config: SyncConfig, *, data_dir: str | os.PathLike[str], client_id: str = "", online: bool = True
    ) -> PocketClient:
        """Opens the replica in data_dir, or creates it with client_id (a
        random one when empty); an existing replica keeps its own id."""
        replica = Replica.open(Path(data_dir) / DATABASE_FILE, client_id)
        try:
            engine = SyncEngine(replica, config)
        except Exception:
            replica.close()
            raise
        if online:
            await engine.set_online(True)
        return cls(replica, engine)

    async def close(self) -> None:
        await self.engine.close()
        self.replica.close()

    async def __aenter__(self) -> PocketClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        await self.close()

    @property
    def client_id(self) -> str:
        return self.replica.client_id

    # ------------------------------------------------------------ local data

    def put(self, collection: str, document_id: str, document: Mapping[str, Any] | str) -> None:
        """Writes a document's full state locally; sync() pushes it. A string
        is taken as the document's JSON text and kept byte for byte. The
        reserved keys _id, _rev and _deleted are stripped (§3.3)."""
        text = documents.dumps(dict(document)) if isinstance(document, Mapping) else document
        self.replica.write(collection, document_id, documents.strip_reserved(text))

    def delete(self, collection: str, document_id: str) -> None:
        self.replica.delete(collection, document_id)

    def get(self, collection: str, document_id: str) -> dict[str, Any] | None:
        local = self.replica.get(collection, document_id)
        return None if local is None or local.document is None else documents.parse(local.document)

    def all(self, collection: str) -> dict[str, dict[str, Any]]:
        """Every live document of a collection, by id."""
        return {d.document_id: documents.parse(d.document) for d in self.replica.documents(collection) if d.document is not None}

    def local(self, collection: str, document_id: str) -> LocalDocument | None:
        """One document with its sync metadata (revision, pending, deleted)."""
        return self.replica.get(collection, document_id)

    # ------------------------------------------------------------ sync

    async def sync(self) -> SyncResult:
        """Pushes local changes and pulls everyone's, now."""
        return await self.engine.sync()

    async def set_online(self, online: bool) -> None:
        await self.engine.set_online(online)

    @property
    def online(self) -> bool:
        return self.engine.online

    @property
    def pending_count(self) -> int:
        return self.replica.pending_count(self.engine.config.collections)

    @property
    def checkpoint(self) -> pb.Checkpoint:
        return self.replica.checkpoint()
