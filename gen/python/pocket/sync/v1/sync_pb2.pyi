from buf.validate import validate_pb2 as _validate_pb2
from google.rpc import error_details_pb2 as _error_details_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Operation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OPERATION_UNSPECIFIED: _ClassVar[Operation]
    OPERATION_INSERT: _ClassVar[Operation]
    OPERATION_UPDATE: _ClassVar[Operation]
    OPERATION_DELETE: _ClassVar[Operation]

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    ERROR_REASON_RESYNC_REQUIRED: _ClassVar[ErrorReason]
    ERROR_REASON_UNAUTHENTICATED: _ClassVar[ErrorReason]
    ERROR_REASON_PERMISSION_DENIED: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_ARGUMENT: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_DOCUMENT: _ClassVar[ErrorReason]
    ERROR_REASON_TOO_LARGE: _ClassVar[ErrorReason]
    ERROR_REASON_IDEMPOTENCY_MISMATCH: _ClassVar[ErrorReason]
    ERROR_REASON_VALIDATION_FAILED: _ClassVar[ErrorReason]
    ERROR_REASON_UNAVAILABLE: _ClassVar[ErrorReason]
    ERROR_REASON_FILTER_NOT_INDEXED: _ClassVar[ErrorReason]
OPERATION_UNSPECIFIED: Operation
OPERATION_INSERT: Operation
OPERATION_UPDATE: Operation
OPERATION_DELETE: Operation
ERROR_REASON_UNSPECIFIED: ErrorReason
ERROR_REASON_RESYNC_REQUIRED: ErrorReason
ERROR_REASON_UNAUTHENTICATED: ErrorReason
ERROR_REASON_PERMISSION_DENIED: ErrorReason
ERROR_REASON_INVALID_ARGUMENT: ErrorReason
ERROR_REASON_INVALID_DOCUMENT: ErrorReason
ERROR_REASON_TOO_LARGE: ErrorReason
ERROR_REASON_IDEMPOTENCY_MISMATCH: ErrorReason
ERROR_REASON_VALIDATION_FAILED: ErrorReason
ERROR_REASON_UNAVAILABLE: ErrorReason
ERROR_REASON_FILTER_NOT_INDEXED: ErrorReason

class HybridLogicalClock(_message.Message):
    __slots__ = ("wall_time_ms", "logical")
    WALL_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_FIELD_NUMBER: _ClassVar[int]
    wall_time_ms: int
    logical: int
    def __init__(self, wall_time_ms: _Optional[int] = ..., logical: _Optional[int] = ...) -> None: ...

class ChangeEvent(_message.Message):
    __slots__ = ("operation", "collection", "document_id", "document", "base_revision", "revision", "client_id", "client_sequence", "timestamp", "server_sequence", "deleted", "removed")
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    BASE_REVISION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SERVER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    operation: Operation
    collection: str
    document_id: str
    document: str
    base_revision: str
    revision: str
    client_id: str
    client_sequence: int
    timestamp: HybridLogicalClock
    server_sequence: int
    deleted: bool
    removed: bool
    def __init__(self, operation: _Optional[_Union[Operation, str]] = ..., collection: _Optional[str] = ..., document_id: _Optional[str] = ..., document: _Optional[str] = ..., base_revision: _Optional[str] = ..., revision: _Optional[str] = ..., client_id: _Optional[str] = ..., client_sequence: _Optional[int] = ..., timestamp: _Optional[_Union[HybridLogicalClock, _Mapping]] = ..., server_sequence: _Optional[int] = ..., deleted: _Optional[bool] = ..., removed: _Optional[bool] = ...) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("server_sequence", "collections", "epoch", "paging_since", "filters")
    class CollectionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class PagingSinceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class FiltersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SERVER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    PAGING_SINCE_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    server_sequence: int
    collections: _containers.ScalarMap[str, int]
    epoch: str
    paging_since: _containers.ScalarMap[str, int]
    filters: _containers.ScalarMap[str, str]
    def __init__(self, server_sequence: _Optional[int] = ..., collections: _Optional[_Mapping[str, int]] = ..., epoch: _Optional[str] = ..., paging_since: _Optional[_Mapping[str, int]] = ..., filters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PushRequest(_message.Message):
    __slots__ = ("client_id", "changes")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    changes: _containers.RepeatedCompositeFieldContainer[ChangeEvent]
    def __init__(self, client_id: _Optional[str] = ..., changes: _Optional[_Iterable[_Union[ChangeEvent, _Mapping]]] = ...) -> None: ...

class PushResponse(_message.Message):
    __slots__ = ("results", "checkpoint")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ChangeResult]
    checkpoint: Checkpoint
    def __init__(self, results: _Optional[_Iterable[_Union[ChangeResult, _Mapping]]] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ...) -> None: ...

class ChangeResult(_message.Message):
    __slots__ = ("client_sequence", "accepted", "resolved", "conflict", "rejected")
    CLIENT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    client_sequence: int
    accepted: Accepted
    resolved: Resolved
    conflict: Conflict
    rejected: Rejected
    def __init__(self, client_sequence: _Optional[int] = ..., accepted: _Optional[_Union[Accepted, _Mapping]] = ..., resolved: _Optional[_Union[Resolved, _Mapping]] = ..., conflict: _Optional[_Union[Conflict, _Mapping]] = ..., rejected: _Optional[_Union[Rejected, _Mapping]] = ...) -> None: ...

class Accepted(_message.Message):
    __slots__ = ("revision", "server_sequence")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SERVER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    revision: str
    server_sequence: int
    def __init__(self, revision: _Optional[str] = ..., server_sequence: _Optional[int] = ...) -> None: ...

class Resolved(_message.Message):
    __slots__ = ("current", "strategy")
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    current: ChangeEvent
    strategy: str
    def __init__(self, current: _Optional[_Union[ChangeEvent, _Mapping]] = ..., strategy: _Optional[str] = ...) -> None: ...

class Conflict(_message.Message):
    __slots__ = ("current",)
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    current: ChangeEvent
    def __init__(self, current: _Optional[_Union[ChangeEvent, _Mapping]] = ...) -> None: ...

class Rejected(_message.Message):
    __slots__ = ("code", "reason", "message", "field_violations")
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    code: int
    reason: str
    message: str
    field_violations: _containers.RepeatedCompositeFieldContainer[_error_details_pb2.BadRequest.FieldViolation]
    def __init__(self, code: _Optional[int] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., field_violations: _Optional[_Iterable[_Union[_error_details_pb2.BadRequest.FieldViolation, _Mapping]]] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("collections", "checkpoint", "limit", "client_id", "filters")
    class FiltersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Filter
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Filter, _Mapping]] = ...) -> None: ...
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedScalarFieldContainer[str]
    checkpoint: Checkpoint
    limit: int
    client_id: str
    filters: _containers.MessageMap[str, Filter]
    def __init__(self, collections: _Optional[_Iterable[str]] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ..., limit: _Optional[int] = ..., client_id: _Optional[str] = ..., filters: _Optional[_Mapping[str, Filter]] = ...) -> None: ...

class Filter(_message.Message):
    __slots__ = ("conditions",)
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    conditions: _containers.RepeatedCompositeFieldContainer[FieldCondition]
    def __init__(self, conditions: _Optional[_Iterable[_Union[FieldCondition, _Mapping]]] = ...) -> None: ...

class FieldCondition(_message.Message):
    __slots__ = ("field", "values")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    field: str
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, field: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class PullResponse(_message.Message):
    __slots__ = ("changes", "checkpoint", "has_more")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[ChangeEvent]
    checkpoint: Checkpoint
    has_more: bool
    def __init__(self, changes: _Optional[_Iterable[_Union[ChangeEvent, _Mapping]]] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ..., has_more: _Optional[bool] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("collections", "checkpoint", "client_id", "heartbeat_interval_ms", "filters")
    class FiltersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Filter
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Filter, _Mapping]] = ...) -> None: ...
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedScalarFieldContainer[str]
    checkpoint: Checkpoint
    client_id: str
    heartbeat_interval_ms: int
    filters: _containers.MessageMap[str, Filter]
    def __init__(self, collections: _Optional[_Iterable[str]] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ..., client_id: _Optional[str] = ..., heartbeat_interval_ms: _Optional[int] = ..., filters: _Optional[_Mapping[str, Filter]] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("changes", "heartbeat")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    changes: ChangeBatch
    heartbeat: Heartbeat
    def __init__(self, changes: _Optional[_Union[ChangeBatch, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class ChangeBatch(_message.Message):
    __slots__ = ("changes", "checkpoint", "caught_up")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    CAUGHT_UP_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[ChangeEvent]
    checkpoint: Checkpoint
    caught_up: bool
    def __init__(self, changes: _Optional[_Iterable[_Union[ChangeEvent, _Mapping]]] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ..., caught_up: _Optional[bool] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("checkpoint", "server_time_ms")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    checkpoint: Checkpoint
    server_time_ms: int
    def __init__(self, checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ..., server_time_ms: _Optional[int] = ...) -> None: ...
