from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Owner(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OWNER_UNSPECIFIED: _ClassVar[Owner]
    OWNER_CALICO: _ClassVar[Owner]
    OWNER_ANTREA: _ClassVar[Owner]
    OWNER_MULTUS: _ClassVar[Owner]
    OWNER_OTHER: _ClassVar[Owner]

class Backend(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BACKEND_UNSPECIFIED: _ClassVar[Backend]
    BACKEND_LEGACY: _ClassVar[Backend]
    BACKEND_NFT: _ClassVar[Backend]

class Result(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESULT_UNSPECIFIED: _ClassVar[Result]
    RESULT_DONE: _ClassVar[Result]
    RESULT_ABSENT: _ClassVar[Result]
    RESULT_PLANNED: _ClassVar[Result]
    RESULT_SKIPPED: _ClassVar[Result]
    RESULT_FAILED: _ClassVar[Result]

class CniNetwork(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CNI_NETWORK_UNSPECIFIED: _ClassVar[CniNetwork]
    CNI_NETWORK_CALICO: _ClassVar[CniNetwork]
    CNI_NETWORK_MULTUS: _ClassVar[CniNetwork]
    CNI_NETWORK_ANTREA: _ClassVar[CniNetwork]
OWNER_UNSPECIFIED: Owner
OWNER_CALICO: Owner
OWNER_ANTREA: Owner
OWNER_MULTUS: Owner
OWNER_OTHER: Owner
BACKEND_UNSPECIFIED: Backend
BACKEND_LEGACY: Backend
BACKEND_NFT: Backend
RESULT_UNSPECIFIED: Result
RESULT_DONE: Result
RESULT_ABSENT: Result
RESULT_PLANNED: Result
RESULT_SKIPPED: Result
RESULT_FAILED: Result
CNI_NETWORK_UNSPECIFIED: CniNetwork
CNI_NETWORK_CALICO: CniNetwork
CNI_NETWORK_MULTUS: CniNetwork
CNI_NETWORK_ANTREA: CniNetwork

class PingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PingReply(_message.Message):
    __slots__ = ("version", "node")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    version: str
    node: str
    def __init__(self, version: _Optional[str] = ..., node: _Optional[str] = ...) -> None: ...

class ReportRequest(_message.Message):
    __slots__ = ("pod_cidrs",)
    POD_CIDRS_FIELD_NUMBER: _ClassVar[int]
    pod_cidrs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pod_cidrs: _Optional[_Iterable[str]] = ...) -> None: ...

class CniConf(_message.Message):
    __slots__ = ("file", "network", "plugin_types", "valid", "error", "owner")
    FILE_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_TYPES_FIELD_NUMBER: _ClassVar[int]
    VALID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    file: str
    network: str
    plugin_types: _containers.RepeatedScalarFieldContainer[str]
    valid: bool
    error: str
    owner: Owner
    def __init__(self, file: _Optional[str] = ..., network: _Optional[str] = ..., plugin_types: _Optional[_Iterable[str]] = ..., valid: _Optional[bool] = ..., error: _Optional[str] = ..., owner: _Optional[_Union[Owner, str]] = ...) -> None: ...

class CniScan(_message.Message):
    __slots__ = ("conf_dir", "confs", "active", "other_files")
    CONF_DIR_FIELD_NUMBER: _ClassVar[int]
    CONFS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    OTHER_FILES_FIELD_NUMBER: _ClassVar[int]
    conf_dir: str
    confs: _containers.RepeatedCompositeFieldContainer[CniConf]
    active: str
    other_files: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, conf_dir: _Optional[str] = ..., confs: _Optional[_Iterable[_Union[CniConf, _Mapping]]] = ..., active: _Optional[str] = ..., other_files: _Optional[_Iterable[str]] = ...) -> None: ...

class LinkInfo(_message.Message):
    __slots__ = ("name", "kind", "owner", "addresses", "up", "index")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    UP_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    owner: Owner
    addresses: _containers.RepeatedScalarFieldContainer[str]
    up: bool
    index: int
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., owner: _Optional[_Union[Owner, str]] = ..., addresses: _Optional[_Iterable[str]] = ..., up: _Optional[bool] = ..., index: _Optional[int] = ...) -> None: ...

class RouteInfo(_message.Message):
    __slots__ = ("destination", "device", "gateway", "protocol", "type", "owner", "table", "onlink")
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    ONLINK_FIELD_NUMBER: _ClassVar[int]
    destination: str
    device: str
    gateway: str
    protocol: str
    type: str
    owner: Owner
    table: int
    onlink: bool
    def __init__(self, destination: _Optional[str] = ..., device: _Optional[str] = ..., gateway: _Optional[str] = ..., protocol: _Optional[str] = ..., type: _Optional[str] = ..., owner: _Optional[_Union[Owner, str]] = ..., table: _Optional[int] = ..., onlink: _Optional[bool] = ...) -> None: ...

class RouteConflict(_message.Message):
    __slots__ = ("calico_route", "antrea_route", "shadowed", "reason")
    CALICO_ROUTE_FIELD_NUMBER: _ClassVar[int]
    ANTREA_ROUTE_FIELD_NUMBER: _ClassVar[int]
    SHADOWED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    calico_route: RouteInfo
    antrea_route: RouteInfo
    shadowed: str
    reason: str
    def __init__(self, calico_route: _Optional[_Union[RouteInfo, _Mapping]] = ..., antrea_route: _Optional[_Union[RouteInfo, _Mapping]] = ..., shadowed: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AddressConflict(_message.Message):
    __slots__ = ("address", "holder", "reason")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    address: str
    holder: str
    reason: str
    def __init__(self, address: _Optional[str] = ..., holder: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class TableSummary(_message.Message):
    __slots__ = ("table", "calico_chains", "calico_rules", "jump_rules", "total_rules")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    CALICO_CHAINS_FIELD_NUMBER: _ClassVar[int]
    CALICO_RULES_FIELD_NUMBER: _ClassVar[int]
    JUMP_RULES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_RULES_FIELD_NUMBER: _ClassVar[int]
    table: str
    calico_chains: int
    calico_rules: int
    jump_rules: int
    total_rules: int
    def __init__(self, table: _Optional[str] = ..., calico_chains: _Optional[int] = ..., calico_rules: _Optional[int] = ..., jump_rules: _Optional[int] = ..., total_rules: _Optional[int] = ...) -> None: ...

class NetfilterSummary(_message.Message):
    __slots__ = ("backend", "available", "tables", "error")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    backend: Backend
    available: bool
    tables: _containers.RepeatedCompositeFieldContainer[TableSummary]
    error: str
    def __init__(self, backend: _Optional[_Union[Backend, str]] = ..., available: _Optional[bool] = ..., tables: _Optional[_Iterable[_Union[TableSummary, _Mapping]]] = ..., error: _Optional[str] = ...) -> None: ...

class NodeReport(_message.Message):
    __slots__ = ("node", "cni", "links", "routes", "other_route_count", "route_conflicts", "address_conflicts", "netfilter", "calico_ipsets", "warnings")
    NODE_FIELD_NUMBER: _ClassVar[int]
    CNI_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    OTHER_ROUTE_COUNT_FIELD_NUMBER: _ClassVar[int]
    ROUTE_CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    NETFILTER_FIELD_NUMBER: _ClassVar[int]
    CALICO_IPSETS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    node: str
    cni: CniScan
    links: _containers.RepeatedCompositeFieldContainer[LinkInfo]
    routes: _containers.RepeatedCompositeFieldContainer[RouteInfo]
    other_route_count: int
    route_conflicts: _containers.RepeatedCompositeFieldContainer[RouteConflict]
    address_conflicts: _containers.RepeatedCompositeFieldContainer[AddressConflict]
    netfilter: _containers.RepeatedCompositeFieldContainer[NetfilterSummary]
    calico_ipsets: _containers.RepeatedScalarFieldContainer[str]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, node: _Optional[str] = ..., cni: _Optional[_Union[CniScan, _Mapping]] = ..., links: _Optional[_Iterable[_Union[LinkInfo, _Mapping]]] = ..., routes: _Optional[_Iterable[_Union[RouteInfo, _Mapping]]] = ..., other_route_count: _Optional[int] = ..., route_conflicts: _Optional[_Iterable[_Union[RouteConflict, _Mapping]]] = ..., address_conflicts: _Optional[_Iterable[_Union[AddressConflict, _Mapping]]] = ..., netfilter: _Optional[_Iterable[_Union[NetfilterSummary, _Mapping]]] = ..., calico_ipsets: _Optional[_Iterable[str]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class Outcome(_message.Message):
    __slots__ = ("subsystem", "object", "action", "result", "detail")
    SUBSYSTEM_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    subsystem: str
    object: str
    action: str
    result: Result
    detail: str
    def __init__(self, subsystem: _Optional[str] = ..., object: _Optional[str] = ..., action: _Optional[str] = ..., result: _Optional[_Union[Result, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class OutcomesReply(_message.Message):
    __slots__ = ("outcomes",)
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[Outcome]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[Outcome, _Mapping]]] = ...) -> None: ...

class PodRef(_message.Message):
    __slots__ = ("namespace", "name")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class KillSandboxesRequest(_message.Message):
    __slots__ = ("namespaces", "pods", "dry_run", "force", "never_restart", "created_before_ns")
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    PODS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    NEVER_RESTART_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_NS_FIELD_NUMBER: _ClassVar[int]
    namespaces: _containers.RepeatedScalarFieldContainer[str]
    pods: _containers.RepeatedScalarFieldContainer[str]
    dry_run: bool
    force: bool
    never_restart: _containers.RepeatedCompositeFieldContainer[PodRef]
    created_before_ns: int
    def __init__(self, namespaces: _Optional[_Iterable[str]] = ..., pods: _Optional[_Iterable[str]] = ..., dry_run: _Optional[bool] = ..., force: _Optional[bool] = ..., never_restart: _Optional[_Iterable[_Union[PodRef, _Mapping]]] = ..., created_before_ns: _Optional[int] = ...) -> None: ...

class SandboxOutcome(_message.Message):
    __slots__ = ("pod", "namespace", "sandbox_id", "result", "seconds", "detail", "host_network")
    POD_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    HOST_NETWORK_FIELD_NUMBER: _ClassVar[int]
    pod: str
    namespace: str
    sandbox_id: str
    result: Result
    seconds: float
    detail: str
    host_network: bool
    def __init__(self, pod: _Optional[str] = ..., namespace: _Optional[str] = ..., sandbox_id: _Optional[str] = ..., result: _Optional[_Union[Result, str]] = ..., seconds: _Optional[float] = ..., detail: _Optional[str] = ..., host_network: _Optional[bool] = ...) -> None: ...

class KillSandboxesReply(_message.Message):
    __slots__ = ("sandboxes",)
    SANDBOXES_FIELD_NUMBER: _ClassVar[int]
    sandboxes: _containers.RepeatedCompositeFieldContainer[SandboxOutcome]
    def __init__(self, sandboxes: _Optional[_Iterable[_Union[SandboxOutcome, _Mapping]]] = ...) -> None: ...

class SetMultusRequest(_message.Message):
    __slots__ = ("enabled", "dry_run")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    dry_run: bool
    def __init__(self, enabled: _Optional[bool] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class SetCniRequest(_message.Message):
    __slots__ = ("network", "dry_run")
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    network: CniNetwork
    dry_run: bool
    def __init__(self, network: _Optional[_Union[CniNetwork, str]] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class CleanupCalicoRequest(_message.Message):
    __slots__ = ("dry_run",)
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    def __init__(self, dry_run: _Optional[bool] = ...) -> None: ...
