"""The documented differences between LangGraph 1.2's public modules and waypoint's: every
public name of those modules that waypoint does not have at the same path, with the reason
and the alternative. ``tests/test_public_names.py`` enumerates LangGraph's names at test time
and fails on a name that is neither in waypoint nor here; the README's "LangGraph API
coverage" section says the same in prose."""

from __future__ import annotations

LOGGER = "the module's logging.Logger: not API"
TYPEVAR = "a TypeVar of LangGraph's own annotations: not API"
SQL = ("LangGraph's SQL text and migrations for its own tables; waypoint has its own schema "
       "(waypoint_* tables) and does not read LangGraph's")
STREAM_V2 = ("a part type of LangGraph's v2 streaming (stream(version='v2')); waypoint streams "
             "v1 chunks: use the (namespace, mode, chunk) tuples")
DEBUG = ("LangGraph's internal builders of debug-stream events; waypoint's engine emits the same "
         "events (stream_mode='debug' / 'tasks' / 'checkpoints')")
SHALLOW = ("LangGraph's shallow (latest-checkpoint-only) saver; waypoint's item log already "
           "stores each value once: use PostgresSaver, and `waypoint prune` to keep only the latest")
PLATFORM = "LangGraph Platform / server feature; waypoint runs no server"
PENDING = "pending: another part of issue 16/17 adds it (allowed to be present)"

# modules waypoint does not have, as a whole
MODULES: dict[str, str] = {
    "langgraph.graph.ui": PLATFORM + " (generative UI messages pushed to a LangGraph server's client)",
    "langgraph.channels.any_value": "AnyValue: use LastValue, or a reducer channel (Annotated[T, reducer])",
    "langgraph.cache.redis": "RedisCache: waypoint.cache has InMemoryCache and SqliteCache only",
    "langgraph.pregel.debug": DEBUG,
    "langgraph.pregel.protocol": "typing protocols of LangGraph's Pregel/RemoteGraph: waypoint graphs are waypoint.pregel.Pregel",
    "langgraph.pregel.remote": PLATFORM + " (RemoteGraph is a LangGraph Server client)",
    "langgraph.store.base.batch": "the async batching store base: waypoint's stores batch in waypoint.store.base.BaseStore",
    "langgraph.store.base.embed": ("embedding helpers: pass an embed callable or a LangChain Embeddings "
                                   "object to index={...}; waypoint wraps it itself"),
    "langgraph.store.postgres.base": "import the stores from waypoint.store.postgres (PostgresStore, PoolConfig, ...); " + SQL,
    "langgraph.store.sqlite.base": "import the stores from waypoint.store.sqlite (SqliteStore, ...); " + SQL,
    "langgraph.checkpoint.conformance": ("LangGraph's checkpointer conformance kit; waypoint's savers pass it through "
                                         "the waypoint.langgraph adapters, and tests/conformance is waypoint's own suite"),
    "langgraph.checkpoint.postgres.base": "import PostgresSaver from waypoint.checkpoint.postgres; " + SQL,
    "langgraph.checkpoint.postgres.shallow": SHALLOW,
    "langgraph.checkpoint.serde.event_hooks": ("serializer event hooks: waypoint's serializer raises named errors "
                                               "(waypoint.errors) instead of emitting events"),
    "langgraph.checkpoint.sqlite.utils": SQL,
}

# names missing from a module waypoint has
NAMES: dict[str, dict[str, str]] = {
    "langgraph.graph.state": {"logger": LOGGER},
    "langgraph.types": {
        "CacheKey": PENDING,
        "TracePolicy": PENDING,
        "omit_payload": PENDING,
        "PregelExecutableTask": "the engine's internal task object; waypoint's is waypoint.pregel.node.Task",
        "GraphOutput": STREAM_V2,
        "StreamPart": STREAM_V2,
        "ValuesStreamPart": STREAM_V2,
        "UpdatesStreamPart": STREAM_V2,
        "MessagesStreamPart": STREAM_V2,
        "CustomStreamPart": STREAM_V2,
        "CheckpointStreamPart": STREAM_V2,
        "TasksStreamPart": STREAM_V2,
        "DebugStreamPart": STREAM_V2,
    },
    "langgraph.constants": {
        "CONFIG_KEY_CHECKPOINTER": ("a key of LangGraph's internal configurable; waypoint passes the saver "
                                    "with compile(checkpointer=...) only"),
    },
    "langgraph.channels.base": {"Checkpoint": "import it from waypoint.checkpoint.base"},
    "langgraph.managed.base": {"U": TYPEVAR},
    "langgraph.runtime": {
        "BaseUser": PLATFORM + " (the authenticated user of a server run)",
        "DEFAULT_RUNTIME": "the Runtime a node gets outside a run; waypoint builds one per task (get_runtime())",
    },
    "langgraph.pregel.main": {"NodeBuilder": PENDING},
    "langgraph.pregel.types": {
        "PregelExecutableTask": "the engine's internal task object; waypoint's is waypoint.pregel.node.Task",
    },
    "langgraph.store.base": {
        "Embeddings": "LangChain's Embeddings class: import it from langchain_core.embeddings",
        "tokenize_path": "a helper of LangGraph's index config; waypoint parses index paths itself",
        "validate_op_namespace": ("waypoint validates every namespace in the store and raises "
                                  "InvalidNamespaceError"),
    },
    "langgraph.store.memory": {"logger": LOGGER},
    "langgraph.store.postgres.aio": {"logger": LOGGER},
    "langgraph.store.sqlite.aio": {"logger": LOGGER},
    "langgraph.checkpoint.base": {
        "DeltaChannelHistory": ("LangGraph's snapshot/delta history reader for DeltaChannel; waypoint's item log "
                                "stores appends once and needs no reconstruction"),
        "LATEST_VERSION": "LangGraph's checkpoint format version; waypoint's format is its own",
        "V": TYPEVAR,
        "get_checkpoint_metadata": "metadata merging done inside LangGraph's savers; waypoint's engine merges it",
        "get_serializable_checkpoint_metadata": "as get_checkpoint_metadata",
        "writes_sort_key": "pending writes come back from waypoint's savers already in LangGraph's order",
        "logger": LOGGER,
    },
    "langgraph.checkpoint.base.id": {"UUID": "the stdlib uuid.UUID class re-exported: import it from uuid"},
    "langgraph.checkpoint.memory": {
        "PersistentDict": ("LangGraph's file-backed dict for InMemorySaver(factory=...); use SqliteSaver "
                           "for a saver that outlives the process"),
        "logger": LOGGER,
    },
    "langgraph.checkpoint.postgres": {
        "BasePostgresSaver": "the shared base of LangGraph's Postgres savers; waypoint's is internal",
        "Conn": "a typing alias of LangGraph's accepted connections (psycopg Connection or ConnectionPool, as waypoint takes)",
        "ShallowPostgresSaver": SHALLOW,
    },
    "langgraph.checkpoint.postgres.aio": {
        "AsyncShallowPostgresSaver": SHALLOW,
        "Conn": "a typing alias of LangGraph's accepted connections (psycopg AsyncConnection or AsyncConnectionPool)",
    },
    "langgraph.checkpoint.serde.base": {
        "CipherProtocol": ("LangGraph's pluggable cipher; waypoint's EncryptedSerializer does AES-GCM itself "
                           "(key=..., or from_pycryptodome_aes())"),
        "SerializerCompat": "a shim for LangGraph's pre-typed serializers; waypoint serializers are typed",
        "UntypedSerializerProtocol": "as SerializerCompat",
        "maybe_add_typed_methods": "as SerializerCompat",
    },
    "langgraph.checkpoint.serde.jsonplus": {
        **{name: "msgpack extension codes of LangGraph's format; waypoint's serializer has its own exact format"
           for name in ("EMPTY_BYTES", "EXT_CONSTRUCTOR_KW_ARGS", "EXT_CONSTRUCTOR_POS_ARGS",
                        "EXT_CONSTRUCTOR_SINGLE_ARG", "EXT_DELTA_SNAPSHOT", "EXT_METHOD_SINGLE_ARG",
                        "EXT_NUMPY_ARRAY", "EXT_PYDANTIC_V1", "EXT_PYDANTIC_V2")},
        "InvalidModuleError": ("waypoint raises waypoint.errors.DisallowedTypeError (a SerializationError) for "
                               "a class it may not load"),
        "LC_REVIVER": "LangChain's reviver: waypoint loads LangChain objects itself, without their reviver",
        "logger": LOGGER,
    },
    "langgraph.checkpoint.sqlite.aio": {"T": TYPEVAR},
}
