"""A Pocket Sync client in Python: a local replica in SQLite with an outbox,
synced over the wire protocol with connect-python on the generated stubs
(gen/python). See examples/python-client/README.md."""
from .client import PocketClient
from .conflicts import Strategy
from .engine import SyncConfig, SyncResult
from .store import LocalDocument

__all__ = ["LocalDocument", "PocketClient", "Strategy", "SyncConfig", "SyncResult"]
