from pocket.sync.v1 import sync_pb2 as _sync_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConflictStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONFLICT_STRATEGY_UNSPECIFIED: _ClassVar[ConflictStrategy]
    CONFLICT_STRATEGY_LOCAL_WINS: _ClassVar[ConflictStrategy]
    CONFLICT_STRATEGY_REMOTE_WINS: _ClassVar[ConflictStrategy]
    CONFLICT_STRATEGY_LAST_WRITE_WINS: _ClassVar[ConflictStrategy]
    CONFLICT_STRATEGY_MERGE: _ClassVar[ConflictStrategy]

class SyncMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SYNC_MODE_UNSPECIFIED: _ClassVar[SyncMode]
    SYNC_MODE_PULL: _ClassVar[SyncMode]
    SYNC_MODE_SUBSCRIBE: _ClassVar[SyncMode]

class CrashPoint(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CRASH_POINT_UNSPECIFIED: _ClassVar[CrashPoint]
    CRASH_POINT_AFTER_FIRST_WRITE_OF_PAGE: _ClassVar[CrashPoint]
CONFLICT_STRATEGY_UNSPECIFIED: ConflictStrategy
CONFLICT_STRATEGY_LOCAL_WINS: ConflictStrategy
CONFLICT_STRATEGY_REMOTE_WINS: ConflictStrategy
CONFLICT_STRATEGY_LAST_WRITE_WINS: ConflictStrategy
CONFLICT_STRATEGY_MERGE: ConflictStrategy
SYNC_MODE_UNSPECIFIED: SyncMode
SYNC_MODE_PULL: SyncMode
SYNC_MODE_SUBSCRIBE: SyncMode
CRASH_POINT_UNSPECIFIED: CrashPoint
CRASH_POINT_AFTER_FIRST_WRITE_OF_PAGE: CrashPoint

class ClientRequest(_message.Message):
    __slots__ = ("request_id", "configure", "write_document", "delete_document", "read_documents", "sync_now", "set_online", "get_status", "shutdown", "crash")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIGURE_FIELD_NUMBER: _ClassVar[int]
    WRITE_DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    DELETE_DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    READ_DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    SYNC_NOW_FIELD_NUMBER: _ClassVar[int]
    SET_ONLINE_FIELD_NUMBER: _ClassVar[int]
    GET_STATUS_FIELD_NUMBER: _ClassVar[int]
    SHUTDOWN_FIELD_NUMBER: _ClassVar[int]
    CRASH_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    configure: Configure
    write_document: WriteDocument
    delete_document: DeleteDocument
    read_documents: ReadDocuments
    sync_now: SyncNow
    set_online: SetOnline
    get_status: GetStatus
    shutdown: Shutdown
    crash: Crash
    def __init__(self, request_id: _Optional[int] = ..., configure: _Optional[_Union[Configure, _Mapping]] = ..., write_document: _Optional[_Union[WriteDocument, _Mapping]] = ..., delete_document: _Optional[_Union[DeleteDocument, _Mapping]] = ..., read_documents: _Optional[_Union[ReadDocuments, _Mapping]] = ..., sync_now: _Optional[_Union[SyncNow, _Mapping]] = ..., set_online: _Optional[_Union[SetOnline, _Mapping]] = ..., get_status: _Optional[_Union[GetStatus, _Mapping]] = ..., shutdown: _Optional[_Union[Shutdown, _Mapping]] = ..., crash: _Optional[_Union[Crash, _Mapping]] = ...) -> None: ...

class ClientResponse(_message.Message):
    __slots__ = ("request_id", "error", "configure", "write_document", "delete_document", "read_documents", "sync_now", "set_online", "get_status", "shutdown", "crash")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CONFIGURE_FIELD_NUMBER: _ClassVar[int]
    WRITE_DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    DELETE_DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    READ_DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    SYNC_NOW_FIELD_NUMBER: _ClassVar[int]
    SET_ONLINE_FIELD_NUMBER: _ClassVar[int]
    GET_STATUS_FIELD_NUMBER: _ClassVar[int]
    SHUTDOWN_FIELD_NUMBER: _ClassVar[int]
    CRASH_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    error: Error
    configure: ConfigureResult
    write_document: WriteDocumentResult
    delete_document: DeleteDocumentResult
    read_documents: ReadDocumentsResult
    sync_now: SyncNowResult
    set_online: SetOnlineResult
    get_status: GetStatusResult
    shutdown: ShutdownResult
    crash: CrashResult
    def __init__(self, request_id: _Optional[int] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., configure: _Optional[_Union[ConfigureResult, _Mapping]] = ..., write_document: _Optional[_Union[WriteDocumentResult, _Mapping]] = ..., delete_document: _Optional[_Union[DeleteDocumentResult, _Mapping]] = ..., read_documents: _Optional[_Union[ReadDocumentsResult, _Mapping]] = ..., sync_now: _Optional[_Union[SyncNowResult, _Mapping]] = ..., set_online: _Optional[_Union[SetOnlineResult, _Mapping]] = ..., get_status: _Optional[_Union[GetStatusResult, _Mapping]] = ..., shutdown: _Optional[_Union[ShutdownResult, _Mapping]] = ..., crash: _Optional[_Union[CrashResult, _Mapping]] = ...) -> None: ...

class Configure(_message.Message):
    __slots__ = ("server_url", "token", "collections", "conflict_strategy", "client_id", "data_dir", "sync_mode", "start_offline", "filters")
    class FiltersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _sync_pb2.Filter
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_sync_pb2.Filter, _Mapping]] = ...) -> None: ...
    SERVER_URL_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_DIR_FIELD_NUMBER: _ClassVar[int]
    SYNC_MODE_FIELD_NUMBER: _ClassVar[int]
    START_OFFLINE_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    server_url: str
    token: str
    collections: _containers.RepeatedScalarFieldContainer[str]
    conflict_strategy: ConflictStrategy
    client_id: str
    data_dir: str
    sync_mode: SyncMode
    start_offline: bool
    filters: _containers.MessageMap[str, _sync_pb2.Filter]
    def __init__(self, server_url: _Optional[str] = ..., token: _Optional[str] = ..., collections: _Optional[_Iterable[str]] = ..., conflict_strategy: _Optional[_Union[ConflictStrategy, str]] = ..., client_id: _Optional[str] = ..., data_dir: _Optional[str] = ..., sync_mode: _Optional[_Union[SyncMode, str]] = ..., start_offline: _Optional[bool] = ..., filters: _Optional[_Mapping[str, _sync_pb2.Filter]] = ...) -> None: ...

class ConfigureResult(_message.Message):
    __slots__ = ("implementation", "client_id", "suites", "conflict_strategies", "sync_modes")
    IMPLEMENTATION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SUITES_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    SYNC_MODES_FIELD_NUMBER: _ClassVar[int]
    implementation: str
    client_id: str
    suites: _containers.RepeatedScalarFieldContainer[str]
    conflict_strategies: _containers.RepeatedScalarFieldContainer[ConflictStrategy]
    sync_modes: _containers.RepeatedScalarFieldContainer[SyncMode]
    def __init__(self, implementation: _Optional[str] = ..., client_id: _Optional[str] = ..., suites: _Optional[_Iterable[str]] = ..., conflict_strategies: _Optional[_Iterable[_Union[ConflictStrategy, str]]] = ..., sync_modes: _Optional[_Iterable[_Union[SyncMode, str]]] = ...) -> None: ...

class WriteDocument(_message.Message):
    __slots__ = ("collection", "document_id", "document")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    collection: str
    document_id: str
    document: str
    def __init__(self, collection: _Optional[str] = ..., document_id: _Optional[str] = ..., document: _Optional[str] = ...) -> None: ...

class WriteDocumentResult(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteDocument(_message.Message):
    __slots__ = ("collection", "document_id")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    collection: str
    document_id: str
    def __init__(self, collection: _Optional[str] = ..., document_id: _Optional[str] = ...) -> None: ...

class DeleteDocumentResult(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReadDocuments(_message.Message):
    __slots__ = ("collection", "document_id")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    collection: str
    document_id: str
    def __init__(self, collection: _Optional[str] = ..., document_id: _Optional[str] = ...) -> None: ...

class Document(_message.Message):
    __slots__ = ("collection", "document_id", "document", "revision", "deleted", "pending")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    collection: str
    document_id: str
    document: str
    revision: str
    deleted: bool
    pending: bool
    def __init__(self, collection: _Optional[str] = ..., document_id: _Optional[str] = ..., document: _Optional[str] = ..., revision: _Optional[str] = ..., deleted: _Optional[bool] = ..., pending: _Optional[bool] = ...) -> None: ...

class ReadDocumentsResult(_message.Message):
    __slots__ = ("documents",)
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    documents: _containers.RepeatedCompositeFieldContainer[Document]
    def __init__(self, documents: _Optional[_Iterable[_Union[Document, _Mapping]]] = ...) -> None: ...

class SyncNow(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SyncNowResult(_message.Message):
    __slots__ = ("pushed", "pulled", "conflicts")
    PUSHED_FIELD_NUMBER: _ClassVar[int]
    PULLED_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    pushed: int
    pulled: int
    conflicts: int
    def __init__(self, pushed: _Optional[int] = ..., pulled: _Optional[int] = ..., conflicts: _Optional[int] = ...) -> None: ...

class SetOnline(_message.Message):
    __slots__ = ("online",)
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    online: bool
    def __init__(self, online: _Optional[bool] = ...) -> None: ...

class SetOnlineResult(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatus(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatusResult(_message.Message):
    __slots__ = ("client_id", "online", "pending_changes", "checkpoint", "subscribed", "last_error")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    PENDING_CHANGES_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBED_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    online: bool
    pending_changes: int
    checkpoint: _sync_pb2.Checkpoint
    subscribed: bool
    last_error: str
    def __init__(self, client_id: _Optional[str] = ..., online: _Optional[bool] = ..., pending_changes: _Optional[int] = ..., checkpoint: _Optional[_Union[_sync_pb2.Checkpoint, _Mapping]] = ..., subscribed: _Optional[bool] = ..., last_error: _Optional[str] = ...) -> None: ...

class Shutdown(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ShutdownResult(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Crash(_message.Message):
    __slots__ = ("point",)
    POINT_FIELD_NUMBER: _ClassVar[int]
    point: CrashPoint
    def __init__(self, point: _Optional[_Union[CrashPoint, str]] = ...) -> None: ...

class CrashResult(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...
