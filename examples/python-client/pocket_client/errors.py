"""What a failed call means to the client: its ErrorInfo (PROTOCOL §11) and
whether to retry it (§9.6) or resync (§8.4)."""
from __future__ import annotations

import asyncio
import enum

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from google.rpc import error_details_pb2

from pocket.sync.v1 import sync_pb2 as pb

ERROR_DOMAIN = "sync.pocket.dev"


def error_info(error: ConnectError) -> error_details_pb2.ErrorInfo | None:
    """The protocol's ErrorInfo detail of an error, if it carries one."""
    for detail in error.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            if info.domain == ERROR_DOMAIN:
                return info
    return None


def has_reason(error: ConnectError, reason: int) -> bool:
    info = error_info(error)
    return info is not None and info.reason == pb.ErrorReason.Name(reason)


class Recovery(enum.Enum):
    RETRY = "retry"  # back off and call again
    RESYNC = "resync"  # pull the named collections from the beginning
    FATAL = "fatal"  # retrying cannot help


_RETRYABLE = frozenset({Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.INTERNAL, Code.UNKNOWN, Code.ABORTED, Code.CANCELED})


def recovery(error: ConnectError) -> Recovery:
    if error.code == Code.FAILED_PRECONDITION and has_reason(error, pb.ERROR_REASON_RESYNC_REQUIRED):
        return Recovery.RESYNC
    if error.code in _RETRYABLE:
        return Recovery.RETRY
    if error.code == Code.RESOURCE_EXHAUSTED:
        return Recovery.FATAL if has_reason(error, pb.ERROR_REASON_TOO_LARGE) else Recovery.RETRY
    return Recovery.FATAL


def resync_collections(error: ConnectError) -> list[str]:
    """The collections a resync-required error names (ErrorInfo metadata)."""
    info = error_info(error)
    names = info.metadata.get("collections", "") if info else ""
    return [name for name in names.split(",") if name]


class Offline(ConnectError):
    """Raised instead of calling out while the client is offline."""

    def __init__(self) -> None:
        super().__init__(Code.UNAVAILABLE, "the client is offline")


def reraise_cancellation(error: ConnectError) -> None:
    """connect-python turns the cancellation of a call into a CANCELED
    error: when it was this task that was cancelled, cancel it for real,
    rather than retrying (and calling out after going offline)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError() from error
