"""The local replica in one SQLite database: the latest server state of each
document, the outbox of local changes laid over it, the checkpoint, the client
id, the next client sequence and the hybrid logical clock.

A document's local state is its outbox entry when it has one (a pending local
change), else its latest server state. Every method is one transaction, so a
crash (even kill -9) leaves the replica as it was before or after it: a local
write and its outbox entry land together (PROTOCOL §9.2), and a checkpoint
lands with the changes it covers (§9.4).
"""
from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from pocket.sync.v1 import sync_pb2 as pb

from .hlc import HybridLogicalClock, Timestamp

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
-- The latest committed server state known for each document.
CREATE TABLE IF NOT EXISTS server_state (
  collection TEXT NOT NULL,
  document_id TEXT NOT NULL,
  server_sequence INTEGER NOT NULL,
  change BLOB NOT NULL,  -- the pocket.sync.v1.ChangeEvent, binary
  PRIMARY KEY (collection, document_id)
);
-- One pending change per document: its latest local state.
CREATE TABLE IF NOT EXISTS outbox (
  client_sequence INTEGER PRIMARY KEY,
  collection TEXT NOT NULL,
  document_id TEXT NOT NULL,
  operation INTEGER NOT NULL,
  document TEXT,               -- NULL for a delete
  base_revision TEXT NOT NULL,  -- the revision last received ('' if never)
  base_document TEXT,          -- the server's document at base_revision, for three-way merge
  wall_time_ms INTEGER NOT NULL,
  logical INTEGER NOT NULL,
  sent INTEGER NOT NULL DEFAULT 0,  -- pushed at least once: the server may hold it
  UNIQUE (collection, document_id)
);
"""


@dataclass(frozen=True)
class PendingChange:
    """An outbox entry: what the next push sends for one document. A retry
    sends exactly this again, client sequence included (§9.1)."""

    collection: str
    document_id: str
    client_sequence: int
    operation: pb.Operation
    document: str | None
    base_revision: str
    base_document: str | None
    timestamp: Timestamp
    sent: bool = False

    def to_wire(self) -> pb.ChangeEvent:
        return pb.ChangeEvent(
            operation=self.operation,
            collection=self.collection,
            document_id=self.document_id,
            document=self.document or "",
            base_revision=self.base_revision,
            client_sequence=self.client_sequence,
            timestamp=self.timestamp.to_wire(),
        )


@dataclass(frozen=True)
class LocalDocument:
    collection: str
    document_id: str
    document: str | None  # JSON text; None when deleted
    revision: str  # the revision last received from the server ('' if never)
    pending: bool

    @property
    def deleted(self) -> bool:
        return self.document is None


def document_of(change: pb.ChangeEvent) -> str | None:
    return None if change.deleted else change.document


class Replica:
    """One replica on disk. Not thread-safe: use it from one thread (the
    sync engine's event loop)."""

    def __init__(self, db: sqlite3.Connection, client_id: str, next_sequence: int, clock: HybridLogicalClock) -> None:
        self._db = db
        self.client_id = client_id
        self._next_sequence = next_sequence
        self.clock = clock

    @classmethod
    def open(cls, path: str | os.PathLike[str], client_id: str = "") -> Replica:
        """Opens the replica at path, or creates it with client_id (a random
        128-bit id when empty). An existing replica keeps its own id (§9.1)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(SCHEMA)
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if "client_id" not in meta:
            meta = {"client_id": client_id or uuid.uuid4().hex, "next_sequence": 1, "clock_wall": 0, "clock_logical": 0}
            with _transaction(db):
                db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
        clock = HybridLogicalClock(Timestamp(int(meta["clock_wall"]), int(meta["clock_logical"])))
        return cls(db, str(meta["client_id"]), int(meta["next_sequence"]), clock)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One atomic write; the clock and sequence counter travel with it."""
        with _transaction(self._db):
            yield self._db
            last = self.clock.last
            self._set_meta(clock_wall=last.wall_time_ms, clock_logical=last.logical, next_sequence=self._next_sequence)

    def _set_meta(self, **values: object) -> None:
        self._db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values.items())

    # ------------------------------------------------------------ reads

    def get(self, collection: str, document_id: str) -> LocalDocument | None:
        """The local state of one document, tombstones included."""
        entry = self._entry(collection, document_id)
        server = self.server_state(collection, document_id)
        if entry:
            return LocalDocument(collection, document_id, entry.document, entry.base_revision, pending=True)
        if server:
            return LocalDocument(collection, document_id, document_of(server), server.revision, pending=False)
        return None

    def documents(self, collection: str) -> list[LocalDocument]:
        """Every live document of a collection, by id."""
        ids = self._db.execute(
            "SELECT document_id FROM server_state WHERE collection = ? UNION SELECT document_id FROM outbox WHERE collection = ? ORDER BY 1",
            (collection, collection),
        ).fetchall()
        docs = (self.get(collection, document_id) for (document_id,) in ids)
        return [d for d in docs if d is not None and not d.deleted]

    def server_state(self, collection: str, document_id: str) -> pb.ChangeEvent | None:
        row = self._db.execute(
            "SELECT change FROM server_state WHERE collection = ? AND document_id = ?", (collection, document_id)
        ).fetchone()
        return pb.ChangeEvent.FromString(row[0]) if row else None

    def checkpoint(self) -> pb.Checkpoint:
        """The last stored checkpoint, as received; empty before the first."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'checkpoint'").fetchone()
        return pb.Checkpoint.FromString(row[0]) if row else pb.Checkpoint()

    # ------------------------------------------------------------ outbox

    def pending(self, collections: Iterable[str], limit: int = -1) -> list[PendingChange]:
        """Pending changes of the collections (of every collection when none
        is named), oldest first, one per document."""
        names = list(collections)
        rows = self._db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM outbox {_in_collections(names)} ORDER BY client_sequence LIMIT ?",
            (*names, limit),
        ).fetchall()
        return [_entry_of(row) for row in rows]

    def pending_count(self, collections: Iterable[str]) -> int:
        names = list(collections)
        (count,) = self._db.execute(f"SELECT COUNT(*) FROM outbox {_in_collections(names)}", names).fetchone()
        return int(count)

    def local_collections(self) -> list[str]:
        """Every collection holding a server state."""
        return [name for (name,) in self._db.execute("SELECT DISTINCT collection FROM server_state").fetchall()]

    def _entry(self, collection: str, document_id: str) -> PendingChange | None:
        row = self._db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM outbox WHERE collection = ? AND document_id = ?", (collection, document_id)
        ).fetchone()
        return _entry_of(row) if row else None

    def _is_current(self, change: PendingChange) -> bool:
        """Whether change is still the document's pending change (no newer
        local write replaced it while it was being pushed)."""
        entry = self._entry(change.collection, change.document_id)
        return entry is not None and entry.client_sequence == change.client_sequence

    def _put_entry(self, entry: PendingChange) -> None:
        self._db.execute("DELETE FROM outbox WHERE collection = ? AND document_id = ?", (entry.collection, entry.document_id))
        self._db.execute(
            f"INSERT INTO outbox ({_ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.client_sequence, entry.collection, entry.document_id, int(entry.operation), entry.document,
                entry.base_revision, entry.base_document, entry.timestamp.wall_time_ms, entry.timestamp.logical, int(entry.sent),
            ),
        )

    def _drop_entry(self, change: PendingChange) -> None:
        self._db.execute("DELETE FROM outbox WHERE client_sequence = ?", (change.client_sequence,))

    def _new_entry(self, collection: str, document_id: str, document: str | None, base_revision: str, base_document: str | None) -> PendingChange:
        """An outbox entry with a fresh client sequence and timestamp."""
        sequence = self._next_sequence
        self._next_sequence += 1
        if document is None:
            operation = pb.OPERATION_DELETE
        else:
            operation = pb.OPERATION_UPDATE if base_revision else pb.OPERATION_INSERT
        return PendingChange(collection, document_id, sequence, operation, document, base_revision, base_document, self.clock.now())

    # ------------------------------------------------------------ local writes

    def write(self, collection: str, document_id: str, document: str) -> PendingChange:
        """Writes a document's full state locally and queues it (§9.2): the
        latest state replaces an older pending one, keeping its base."""
        with self._write():
            pending = self._entry(collection, document_id)
            base_revision, base_document = self._base(collection, document_id)
            entry = self._new_entry(collection, document_id, document, base_revision, base_document)
            # An earlier state of this document may already be on the server.
            entry = replace(entry, sent=bool(pending and pending.sent))
            self._put_entry(entry)
            return entry

    def delete(self, collection: str, document_id: str) -> PendingChange | None:
        """Deletes a document locally and queues its tombstone (§8.1)."""
        with self._write():
            pending = self._entry(collection, document_id)
            server = self.server_state(collection, document_id)
            local = pending.document if pending else (document_of(server) if server else None)
            if local is None:
                return None  # nothing to delete
            if pending and not pending.sent and (server is None or server.deleted):
                # Written here and never pushed on top of a deleted or unknown
                # document: as far as the server knows it is already gone.
                self._drop_entry(pending)
                return None
            base_revision, base_document = self._base(collection, document_id)
            entry = self._new_entry(collection, document_id, None, base_revision, base_document)
            self._put_entry(replace(entry, sent=bool(pending and pending.sent)))
            return entry

    def _base(self, collection: str, document_id: str) -> tuple[str, str | None]:
        """What a new local change builds on: the base of the pending change
        if there is one (it never moves while pending, §9.5), else the server
        state last received."""
        pending = self._entry(collection, document_id)
        if pending:
            return pending.base_revision, pending.base_document
        server = self.server_state(collection, document_id)
        return (server.revision, document_of(server)) if server else ("", None)

    def mark_sent(self, changes: Iterable[PendingChange]) -> None:
        with self._write() as db:
            db.executemany("UPDATE outbox SET sent = 1 WHERE client_sequence = ?", [(c.client_sequence,) for c in changes])

    # ------------------------------------------------------------ push results

    def acknowledge(self, change: PendingChange, revision: str, server_sequence: int, client_id: str) -> None:
        """The server committed change as sent (Accepted)."""
        with self._write():
            committed = pb.ChangeEvent(
                operation=change.operation, collection=change.collection, document_id=change.document_id,
                document=change.document or "", revision=revision, client_id=client_id,
                client_sequence=change.client_sequence, timestamp=change.timestamp.to_wire(),
                server_sequence=server_sequence, deleted=change.document is None,
            )
            self._put_server_state(committed)
            if self._is_current(change):
                self._drop_entry(change)
            else:
                # A newer local write replaced it meanwhile: it now builds on
                # the state this client itself committed.
                newer = self._entry(change.collection, change.document_id)
                assert newer is not None
                self._put_entry(replace(newer, base_revision=revision, base_document=change.document))

    def adopt(self, change: PendingChange, current: pb.ChangeEvent) -> None:
        """The server's state stands (Resolved, §7.2, or a conflict the
        client's strategy settled for the server): replace the local copy
        with it and never push it back (§9.3)."""
        with self._write():
            self.clock.observe(Timestamp.from_wire(current.timestamp))
            self._put_server_state(current)
            if self._is_current(change):
                self._drop_entry(change)

    def rebase(self, change: PendingChange, current: pb.ChangeEvent, document: str | None) -> PendingChange | None:
        """The client settled a Conflict: queue document (None: delete) on top
        of the server's current revision with a new client sequence (§7.1).
        Returns None when a newer local write replaced change meanwhile."""
        with self._write():
            self.clock.observe(Timestamp.from_wire(current.timestamp))
            self._put_server_state(current)
            if not self._is_current(change):
                return None
            self._drop_entry(change)
            # A Conflict wrote nothing (§12.3): the new entry is not on the server.
            entry = self._new_entry(change.collection, change.document_id, document, current.revision, document_of(current))
            self._put_entry(entry)
            return entry

    def reject(self, change: PendingChange) -> None:
        """The server refused the change: drop it; the document falls back to
        the last server state received."""
        with self._write():
            if self._is_current(change):
                self._drop_entry(change)

    def _put_server_state(self, change: pb.ChangeEvent, *, force: bool = False) -> None:
        """Records a server state unless a later one is already known. A
        state without a revision says the server has no such document."""
        if not change.revision:
            self._db.execute(
                "DELETE FROM server_state WHERE collection = ? AND document_id = ?", (change.collection, change.document_id)
            )
            return
        row = self._db.execute(
            "SELECT server_sequence FROM server_state WHERE collection = ? AND document_id = ?",
            (change.collection, change.document_id),
        ).fetchone()
        if row and row[0] >= change.server_sequence and not force:
            return
        self._db.execute(
            "INSERT OR REPLACE INTO server_state (collection, document_id, server_sequence, change) VALUES (?, ?, ?, ?)",
            (change.collection, change.document_id, change.server_sequence, change.SerializeToString()),
        )

    # ------------------------------------------------------------ remote changes

    def apply_remote(
        self, changes: Iterable[pb.ChangeEvent], checkpoint: pb.Checkpoint | None, *, resync: Collection[str] = ()
    ) -> None:
        """Applies server changes and then stores the checkpoint that came
        with them, atomically (§9.4). A document with a pending change keeps
        its local state and base (§9.5): only its server state moves. For the
        collections being resynced every change is taken, whatever its
        sequence (another epoch may have restarted sequences)."""
        with self._write():
            for change in changes:
                self.clock.observe(Timestamp.from_wire(change.timestamp))
                self._put_server_state(change, force=change.collection in resync)
            if checkpoint is not None:
                self._store_checkpoint(checkpoint)

    def finish_resync(self, seen: Mapping[str, set[str]], checkpoint: pb.Checkpoint) -> None:
        """Ends a resync (§8.4): forgets the server state of every document of
        the resynced collections that did not come back in the full pull (a
        document without a pending change disappears), and stores the
        checkpoint, atomically, so a crash before this point resyncs again."""
        with self._write() as db:
            for collection, ids in seen.items():
                rows = db.execute("SELECT document_id FROM server_state WHERE collection = ?", (collection,)).fetchall()
                gone = [(collection, document_id) for (document_id,) in rows if document_id not in ids]
                db.executemany("DELETE FROM server_state WHERE collection = ? AND document_id = ?", gone)
            self._store_checkpoint(checkpoint)

    def store_checkpoint(self, checkpoint: pb.Checkpoint) -> None:
        """Stores a checkpoint that came without changes (a heartbeat's)."""
        with self._write():
            self._store_checkpoint(checkpoint)

    def _store_checkpoint(self, checkpoint: pb.Checkpoint) -> None:
        self._set_meta(checkpoint=checkpoint.SerializeToString())


def _in_collections(names: list[str]) -> str:
    """The WHERE clause for these collections; none named means every one (PROTOCOL §4.8)."""
    return f"WHERE collection IN ({','.join('?' * len(names))})" if names else ""


_ENTRY_COLUMNS = (
    "client_sequence, collection, document_id, operation, document, base_revision, base_document, wall_time_ms, logical, sent"
)


def _entry_of(row: tuple) -> PendingChange:  # type: ignore[type-arg]
    sequence, collection, document_id, operation, document, base_revision, base_document, wall, logical, sent = row
    return PendingChange(collection, document_id, sequence, operation, document, base_revision, base_document, Timestamp(wall, logical), bool(sent))


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
