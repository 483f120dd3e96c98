"""Conflict strategies (PROTOCOL §7), with the semantics of the reference
implementation's common/src/conflicts.ts, so a strategy picks the same winner
in Python as on the server and in the TypeScript client."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Union

from .documents import JsonObject, json_equal
from .hlc import Timestamp, order_key


class Strategy(str, Enum):
    LAST_WRITE_WINS = "last-write-wins"
    SERVER_WINS = "server-wins"
    CLIENT_WINS = "client-wins"
    MERGE = "merge"


@dataclass(frozen=True)
class Side:
    """One side of a conflict; document is None for a tombstone."""

    document: JsonObject | None
    timestamp: Timestamp
    client_id: str


@dataclass(frozen=True)
class Conflict:
    client: Side  # this client's pending change
    server: Side  # the server's current state
    base: JsonObject | None = None  # the state both started from, when known: enables three-way merge


@dataclass(frozen=True)
class ServerWins:
    pass


@dataclass(frozen=True)
class ClientWins:
    pass


@dataclass(frozen=True)
class Merged:
    document: JsonObject | None  # None deletes


Resolution = Union[ServerWins, ClientWins, Merged]


def client_is_later(conflict: Conflict) -> bool:
    client, server = conflict.client, conflict.server
    return order_key(client.timestamp, client.client_id) > order_key(server.timestamp, server.client_id)


def merge_documents(conflict: Conflict) -> JsonObject | None:
    """Field-level merge of top-level keys. Where the base is known it is
    three-way: a key only one side changed takes that side's value. A key both
    sides changed (or any key, without a base) takes the value of the later
    change. A delete meets an edit by timestamp: the later one wins."""
    client, server, base = conflict.client.document, conflict.server.document, conflict.base
    client_later = client_is_later(conflict)
    if client is None or server is None:
        return client if client_later else server

    def changed(side: JsonObject, key: str) -> bool:
        assert base is not None
        return (key in side) != (key in base) or not json_equal(side.get(key), base.get(key))

    merged: JsonObject = {}
    # Server keys first, then the client's new ones: the reference key order.
    for key in dict.fromkeys([*server, *client]):
        if base is not None and changed(client, key) and not changed(server, key):
            source = client
        elif base is not None and changed(server, key) and not changed(client, key):
            source = server
        elif base is None and (key in client) != (key in server):
            # Two-way: a key only one side has was added by it (a removal
            # cannot be told apart without a base).
            source = client if key in client else server
        else:
            source = client if client_later else server
        if key in source:
            merged[key] = source[key]
    return merged


Resolver = Callable[[Conflict], Resolution]

RESOLVERS: dict[Strategy, Resolver] = {
    Strategy.LAST_WRITE_WINS: lambda c: ClientWins() if client_is_later(c) else ServerWins(),
    Strategy.SERVER_WINS: lambda c: ServerWins(),
    Strategy.CLIENT_WINS: lambda c: ClientWins(),
    Strategy.MERGE: lambda c: Merged(merge_documents(c)),
}


def settle(strategy: Strategy, conflict: Conflict) -> Resolution:
    """How the client settles a Conflict outcome (§7.1). A result equal to
    the server's state comes back as ServerWins: there is nothing to push."""
    resolution = RESOLVERS[strategy](conflict)
    if isinstance(resolution, ServerWins):
        return resolution
    document = conflict.client.document if isinstance(resolution, ClientWins) else resolution.document
    return ServerWins() if json_equal(document, conflict.server.document) else resolution
