"""An emulated Kubernetes API server on 127.0.0.1 for tests that use the real ``kubernetes`` client over HTTP.

``Emulator().start()`` binds a free port and serves discovery, core/apps/policy/coordination/RBAC/CRD kinds and
any custom resource whose CRD was created, with the semantics listed in ``tests/kube/README.md``. Tests read what
happened through ``requests`` (every request, with its verb) and inspect state with ``objects()``; hooks inject
failures (``fail_next``, ``delay_next``), cut watches (``drop_watches``), expire history (``compact``) and switch
the kubelet (``kubelet_on``, ``pods_ready``, ``node_offline``, ``readiness_delay``; see ``kubelet.py``).
"""
from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from . import disruption, namespaces, openapi, protobuf
from .kubelet import Kubelet, KubeletSwitches
from .resources import ResourceType, group_document, version_priority
from .selectors import SelectorError, field_matcher, label_matcher
from .store import ApiError, Store, bad_request

KUBERNETES_VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.0", "gitCommit": "emulated",
                      "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24",
                      "compiler": "gc", "platform": "linux/amd64"}

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
APPLY = "application/apply-patch+yaml"
STRATEGIC = "application/strategic-merge-patch+json"
MERGE_TYPES = ("application/merge-patch+json", STRATEGIC)


@dataclass
class Request:
    """One request the emulator answered."""

    method: str
    path: str
    query: dict
    verb: str
    status: int = 0
    content_type: str = ""

    @property
    def is_write(self) -> bool:
        """POST, PUT, PATCH or DELETE."""
        return self.method in WRITE_METHODS


@dataclass
class Fault:
    """A hook: answer the next ``remaining`` matching requests with ``status`` (and/or after ``delay``)."""

    remaining: int
    status: int = 0
    retry_after: int | None = None
    delay: float = 0.0
    method: str | None = None
    path_contains: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request."""
        return (self.remaining > 0 and (self.method is None or self.method == method)
                and (self.path_contains is None or self.path_contains in path))


@dataclass(eq=False)
class _Watch:
    stop: threading.Event = field(default_factory=threading.Event)
    abrupt: bool = True
    bookmark_now: threading.Event = field(default_factory=threading.Event)


class RequestLog(list):
    """Every request, in order; helpers count by verb and writes."""

    def count(self, verb: str | None = None, method: str | None = None, path: str | None = None) -> int:  # type: ignore[override]
        """How many requests matched (``path`` is a substring test)."""
        return sum(1 for r in self if (verb is None or r.verb == verb) and (method is None or r.method == method)
                   and (path is None or path in r.path))

    def writes(self) -> list[Request]:
        """The write requests (POST, PUT, PATCH, DELETE)."""
        return [r for r in self if r.is_write]

    def count_writes(self) -> int:
        """How many write requests were made."""
        return len(self.writes())

    def by_verb(self) -> dict[str, int]:
        """Counts per verb, for reports."""
        out: dict[str, int] = {}
        for r in self:
            out[r.verb] = out.get(r.verb, 0) + 1
        return out


class Emulator(KubeletSwitches):
    """One emulated cluster: start it, hand its kubeconfig to the code, stop it."""

    def __init__(self, name: str = "emulated", token: str | None = None, history_size: int = 10_000,
                 bookmark_interval: float = 1.0, strict_namespaces: bool = True, tls: bool = False):
        self.name = name
        self.token = token  # when set, requests must carry ``Authorization: Bearer <token>``
        #: with ``tls``: serve https with a self-signed serving certificate for 127.0.0.1 and ``localhost``
        #: (its own CA, as kube-apiserver's is); ``ca_data`` is that certificate, base64 PEM
        self.tls = tls
        self.ca_data = ""
        self._tls_files: tuple[str, str] | None = None
        self.store = Store(history_size=history_size, strict_namespaces=strict_namespaces)
        self.bookmark_interval = bookmark_interval
        self.requests = RequestLog()
        # content type → function(bytes) → dict: where a protobuf decoder for Helm's Secret bodies plugs in
        self.body_decoders: dict[str, Callable[[bytes], dict]] = {protobuf.CONTENT_TYPE: protobuf.body_decoder}
        self._faults: list[Fault] = []
        self._watches: set[_Watch] = set()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.kubelet = Kubelet(self.store)  # off until ``kubelet_on()``

    # ----- lifecycle -----

    def start(self) -> Emulator:
        """Bind 127.0.0.1 on a free port and serve in a background thread."""
        handler = type("Handler", (_Handler,), {"emulator": self})
        self._server = _Server(("127.0.0.1", 0), handler, self)
        if self.tls:
            self._server.context = self._tls_context()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name=f"kube-emulator-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; open watches and keep-alive connections are closed."""
        if not self._server:
            return
        self.kubelet.stop()
        self.drop_watches(abrupt=True)
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for conn in list(self._connections):
                _shutdown(conn)
            self._connections.clear()
        self._server = None

    def _tls_context(self) -> ssl.SSLContext:
        """A server context with a fresh self-signed certificate (``ca_data`` is its PEM, base64)."""
        import base64
        import datetime
        import ipaddress
        import tempfile

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kube-apiserver-{self.name}")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                               critical=False)
                .sign(key, hashes.SHA256()))
        pem = cert.public_bytes(serialization.Encoding.PEM)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        self.ca_data = base64.b64encode(pem).decode()
        files = []
        for data in (pem, key_pem):
            handle = tempfile.NamedTemporaryFile(prefix="kube-emulator-", suffix=".pem", delete=False)
            handle.write(data)
            handle.close()
            files.append(handle.name)
        self._tls_files = (files[0], files[1])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self._tls_files)
        for path in self._tls_files:
            os.unlink(path)
        return context

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (``https://`` with ``tls``)."""
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def kubeconfig(self, namespace: str = "default") -> dict:
        """A kubeconfig document for this cluster (token user when a token is required)."""
        user = {"token": self.token} if self.token else {"username": "admin", "password": "emulated"}
        return {"apiVersion": "v1", "kind": "Config", "current-context": self.name, "preferences": {},
                "clusters": [{"name": self.name, "cluster": {"server": self.url, **(
                    {"certificate-authority-data": self.ca_data} if self.tls else {})}}],
                "users": [{"name": self.name, "user": user}],
                "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": self.name,
                                                             "namespace": namespace}}]}

    def write_kubeconfig(self, path: str | Path) -> Path:
        """Write the kubeconfig to ``path`` and return it."""
        path = Path(path)
        path.write_text(yaml.safe_dump(self.kubeconfig()))
        return path

    # ----- inspection -----

    def objects(self, resource: str, namespace: str | None = None, group: str | None = None) -> list[dict]:
        """Stored objects of a resource (plural or kind, e.g. ``"configmaps"`` or ``"ConfigMap"``)."""
        rtype = self.resource_type(resource, group)
        if rtype is None:
            return []
        return self.store.list(rtype, namespace)["items"]

    def object(self, resource: str, name: str, namespace: str | None = None, group: str | None = None) -> dict | None:
        """One stored object or None."""
        rtype = self.resource_type(resource, group)
        try:
            return self.store.get(rtype, namespace, name) if rtype else None
        except ApiError:
            return None

    def resource_type(self, resource: str, group: str | None = None) -> ResourceType | None:
        """Find a served type by plural or kind (optionally in a group)."""
        with self.store.cond:
            candidates = [t for t in self.store.types.values()
                          if resource in (t.plural, t.kind) and (group is None or t.group == group)]
        candidates.sort(key=lambda t: version_priority(t.version))
        return candidates[0] if candidates else None

    @property
    def resource_version(self) -> int:
        """The current value of the global resourceVersion counter."""
        return self.store.rv

    # ----- hooks -----

    def fail_next(self, count: int = 1, status: int = 503, retry_after: int | None = None,
                  method: str | None = None, path_contains: str | None = None) -> None:
        """Answer the next ``count`` matching requests with ``status`` (a Status body, optional Retry-After)."""
        with self._lock:
            self._faults.append(Fault(count, status, retry_after, 0.0, method, path_contains))

    def delay_next(self, count: int = 1, seconds: float = 1.0, method: str | None = None,
                   path_contains: str | None = None, status: int = 0) -> None:
        """Hold the next ``count`` matching requests for ``seconds`` before answering them normally (or, with
        ``status``, refusing them: a request whose client died meanwhile then changes nothing)."""
        with self._lock:
            self._faults.append(Fault(count, status, None, seconds, method, path_contains))

    def drop_watches(self, abrupt: bool = True) -> int:
        """End every open watch: ``abrupt`` cuts the connection mid-stream, otherwise the stream ends cleanly."""
        with self._lock:
            watches = list(self._watches)
        for watch in watches:
            watch.abrupt = abrupt
            watch.stop.set()
        self.store.wake()
        return len(watches)

    def send_bookmarks(self) -> None:
        """Make every watch that asked for bookmarks send one now."""
        with self._lock:
            for watch in self._watches:
                watch.bookmark_now.set()
        self.store.wake()

    def compact(self) -> None:
        """Forget the event history: older resourceVersions answer 410 Gone."""
        self.store.compact()

    @property
    def open_watches(self) -> int:
        """How many watch streams are open."""
        with self._lock:
            return len(self._watches)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    return fault
        return None


def _shutdown(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    context: ssl.SSLContext | None = None  # https: each accepted socket is wrapped (handshake in its thread)

    def __init__(self, address, handler, emulator: Emulator):
        self.emulator = emulator
        super().__init__(address, handler)

    def get_request(self):
        sock, address = super().get_request()
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request, client_address):
        """Quiet over https (a client that refused the certificate is no error of the emulator's)."""
        if self.context is None:
            super().handle_error(request, client_address)

    def process_request(self, request, client_address):
        with self.emulator._lock:
            self.emulator._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.emulator._lock:
            self.emulator._connections.discard(request)
        super().shutdown_request(request)


@dataclass
class _Route:
    rtype: ResourceType | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str = ""
    document: dict | None = None  # discovery and other fixed documents


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes; Nagle would hold the body 40 ms
    emulator: Emulator

    def log_message(self, format, *args):
        """Quiet: the emulator's log is ``emulator.requests``."""

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    # ----- plumbing -----

    def _handle(self, method: str) -> None:
        try:
            self._answer(method)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout in a test): nobody to answer

    def _answer(self, method: str) -> None:
        emulator = self.emulator
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = self._read_body()
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        record = Request(method, url.path, query, method.lower(), 0, content_type)
        emulator.requests.append(record)
        try:
            if emulator.token and self.headers.get("Authorization") != f"Bearer {emulator.token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            fault = emulator._take_fault(method, url.path)
            if fault and fault.delay:
                time.sleep(fault.delay)
            route = self._route(url.path)
            record.verb = self._verb(method, route, query)
            if fault and fault.status:
                raise ApiError(fault.status, _reason(fault.status), f"injected failure ({fault.status})",
                               headers={"Retry-After": str(fault.retry_after)} if fault.retry_after is not None
                               else None)
            if route.document is not None:
                if method != "GET":
                    raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
                return self._send(200, route.document, record)
            if record.verb == "watch":
                return self._watch(route, query, record)
            status, answer = self._dispatch(method, route, query, body, content_type)
            self._send(status, answer, record)
        except ApiError as error:
            self._send(error.code, error.status(), record, error.headers)
        except Exception as error:  # a bug in the emulator: answer like the API server would, with a clue
            if record.verb == "watch":
                raise
            self._send(500, ApiError(500, "InternalError", f"emulator: {type(error).__name__}: {error}").status(),
                       record)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, doc: dict, record: Request, headers: dict | None = None) -> None:
        record.status = status
        payload = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    @staticmethod
    def _verb(method: str, route: _Route, query: dict) -> str:
        if route.document is not None or route.rtype is None:
            return method.lower()
        if method == "GET":
            if route.name:
                return "get"
            return "watch" if query.get("watch") in ("1", "true", "True") else "list"
        if method == "DELETE":
            return "delete" if route.name else "deletecollection"
        return {"POST": "create", "PUT": "update", "PATCH": "patch"}[method]

    # ----- routing -----

    def _route(self, path: str) -> _Route:
        store = self.emulator.store
        # segments are percent-decoded as kube-apiserver does (RBAC names such as "edge:role:x" arrive as %3A)
        parts = [unquote(p) for p in path.split("/") if p]
        if parts in (["version"],):
            return _Route(document=KUBERNETES_VERSION)
        if parts in (["healthz"], ["readyz"], ["livez"]):
            return _Route(document={"status": "ok"})
        if parts[:2] == ["openapi", "v2"]:
            return _Route(document={"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.33.0"},
                                    "paths": {}, "definitions": {}})
        if parts[:2] == ["openapi", "v3"]:
            with store.cond:
                types = list(store.types.values())
            if len(parts) == 2:
                return _Route(document=openapi.root(types))
            group, version = ("", parts[3]) if parts[2] == "api" and len(parts) == 4 else \
                (parts[3], parts[4]) if parts[2] == "apis" and len(parts) == 5 else ("", "")
            document = openapi.group_version(types, group, version) if version else None
            if document is None:
                raise _not_found_path()
            return _Route(document=document)
        if parts == ["api"]:
            return _Route(document={"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": self.emulator.url.split("//", 1)[1]}]})
        if parts == ["apis"]:
            return _Route(document={"kind": "APIGroupList", "apiVersion": "v1", "groups": self._groups()})
        if parts and parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts and parts[0] == "apis" and len(parts) >= 2:
            if len(parts) == 2:
                doc = next((g for g in self._groups() if g["name"] == parts[1]), None)
                if doc is None:
                    raise _not_found_path()
                return _Route(document=dict(doc, kind="APIGroup", apiVersion="v1"))
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise _not_found_path()
        with store.cond:
            served = [t for t in store.types.values() if t.group == group and t.version == version]
        if not served:
            raise _not_found_path()
        if not rest:
            return _Route(document={"kind": "APIResourceList", "apiVersion": "v1",
                                    "groupVersion": f"{group}/{version}" if group else version,
                                    "resources": [e for t in served for e in t.discovery()]})
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3 and store.lookup(group, version, rest[2]) and \
                store.lookup(group, version, rest[2]).namespaced:
            namespace, rest = rest[1], rest[2:]
        rtype = store.lookup(group, version, rest[0])
        if rtype is None or len(rest) > 3:
            raise _not_found_path()
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else ""
        if subresource and not (subresource == "status" and rtype.status_subresource) and \
                subresource not in rtype.subresources:
            raise _not_found_path()
        return _Route(rtype, namespace, name, subresource)

    def _groups(self) -> list[dict]:
        with self.emulator.store.cond:
            versions: dict[str, set[str]] = {}
            for t in self.emulator.store.types.values():
                if t.group:
                    versions.setdefault(t.group, set()).add(t.version)
        return [group_document(g, sorted(vs, key=version_priority)) for g, vs in sorted(versions.items())]

    # ----- verbs -----

    def _decode(self, body: bytes, content_type: str):
        if content_type in self.emulator.body_decoders:
            return self.emulator.body_decoders[content_type](body)
        if content_type == APPLY or content_type.endswith("yaml"):
            try:
                return yaml.safe_load(body or b"{}")
            except yaml.YAMLError as exc:
                raise bad_request(f"error decoding YAML: {exc}")
        if content_type and "json" not in content_type:
            raise ApiError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - '
                           f'accepted media types include: application/json, application/yaml ({content_type})')
        try:
            return json.loads(body or b"{}")
        except ValueError as exc:
            raise bad_request(f"error decoding JSON: {exc}")

    def _dispatch(self, method: str, route: _Route, query: dict, body: bytes, content_type: str):
        store, rtype = self.emulator.store, route.rtype
        if route.namespace is None and rtype.namespaced and method not in ("GET", "DELETE") and route.name:
            raise _not_found_path()
        manager = query.get("fieldManager") or (self.headers.get("User-Agent") or "unknown").split("/")[0]
        if method == "GET":
            if route.name:
                return 200, store.get(rtype, route.namespace, route.name)
            return 200, store.list(rtype, route.namespace, query.get("labelSelector"), query.get("fieldSelector"),
                                   int(query.get("limit") or 0), query.get("continue"))
        if route.subresource in route.rtype.subresources:
            return self._subresource(method, route, body, content_type)
        if method == "POST":
            if route.name:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                                        "resource")
            return 201, store.create(rtype, route.namespace, self._decode(body, content_type), manager)
        if method == "PUT":
            return 200, store.update(rtype, route.namespace, route.name, self._decode(body, content_type), manager,
                                     route.subresource)
        if method == "PATCH":
            if content_type == APPLY:
                existed = self.emulator.object(rtype.plural, route.name, route.namespace, rtype.group) is not None
                answer = store.patch(rtype, route.namespace, route.name, "apply", self._decode(body, content_type),
                                     query.get("fieldManager", ""), query.get("force") == "true", route.subresource)
                return (200 if existed else 201), answer
            if rtype.custom and content_type == STRATEGIC:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                               "accepted media types include: application/json-patch+json, "
                               "application/merge-patch+json, application/apply-patch+yaml")
            if content_type not in MERGE_TYPES:
                raise ApiError(415, "UnsupportedMediaType", f"the patch type {content_type!r} is not supported by "
                               "the emulator (JSON patch is not implemented)")
            patch_type = "strategic" if content_type == STRATEGIC else "merge"
            return 200, store.patch(rtype, route.namespace, route.name, patch_type,
                                    self._decode(body, "application/json"), manager, subresource=route.subresource)
        if method == "DELETE":
            if route.name:
                deleted = store.delete(rtype, route.namespace, route.name)
                if rtype.custom or deleted["metadata"].get("deletionTimestamp"):
                    return 200, deleted
                return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                             "details": {"name": route.name, "group": rtype.group, "kind": rtype.plural,
                                         "uid": deleted["metadata"]["uid"]}}
            return 200, store.delete_collection(rtype, route.namespace, query.get("labelSelector"),
                                                query.get("fieldSelector"))
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")

    def _subresource(self, method: str, route: _Route, body: bytes, content_type: str):
        """``pods/<name>/eviction``, ``pods/<name>/binding`` and ``namespaces/<name>/finalize``."""
        store, allowed = self.emulator.store, route.rtype.subresources[route.subresource][3]
        verb = {"POST": "create", "PUT": "update"}.get(method, method.lower())
        if verb not in allowed:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        doc = self._decode(body, content_type)
        with store.cond:
            if route.subresource == "eviction":
                return disruption.evict(store, route.namespace, route.name, doc)
            if route.subresource == "finalize":
                return 200, namespaces.finalize(store, route.name, doc)
            target = ((doc or {}).get("target") or {}).get("name")
            if not target:
                raise store_invalid_binding(route.name)
            store.bind(route.namespace, route.name, target)
            return 201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    # ----- watch -----

    def _chunk(self, doc: dict) -> None:
        data = (json.dumps(doc) + "\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _watch(self, route: _Route, query: dict, record: Request) -> None:
        emulator, store, rtype = self.emulator, self.emulator.store, route.rtype
        try:
            by_label, by_field = label_matcher(query.get("labelSelector")), field_matcher(query.get("fieldSelector"))
        except SelectorError as exc:
            raise bad_request(str(exc))

        def visible(obj):
            return obj is not None and by_label((obj.get("metadata") or {}).get("labels") or {}) and by_field(obj)

        bookmarks = query.get("allowWatchBookmarks") in ("1", "true", "True")
        timeout = float(query.get("timeoutSeconds") or 0) or None
        record.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        watch = _Watch()
        with emulator._lock:
            emulator._watches.add(watch)
        self.close_connection = True
        started = time.monotonic()
        next_bookmark = started + emulator.bookmark_interval

        def bookmark(rv: int, initial_end: bool = False) -> None:
            meta = {"resourceVersion": str(rv)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            self._chunk({"type": "BOOKMARK", "object": {"kind": rtype.kind, "apiVersion": rtype.api_version,
                                                        "metadata": meta}})

        try:
            try:
                send_initial = query.get("sendInitialEvents") in ("true", "1")
                rv = None if send_initial else query.get("resourceVersion")
                initial, cursor = store.watch_start(rtype, route.namespace, rv)
                for event in initial:
                    if visible(event.obj):
                        self._chunk({"type": "ADDED", "object": _present(rtype, event.obj)})
                if send_initial and bookmarks:
                    bookmark(cursor, initial_end=True)
                while not watch.stop.is_set():
                    now = time.monotonic()
                    if timeout and now - started >= timeout:
                        break
                    if bookmarks and (now >= next_bookmark or watch.bookmark_now.is_set()):
                        watch.bookmark_now.clear()
                        bookmark(cursor)
                        next_bookmark = now + emulator.bookmark_interval
                    events, cursor = store.events_after(cursor, timeout=0.2)
                    if watch.stop.is_set():
                        break
                    for event in events:
                        if event.key != rtype.key or (route.namespace and event.namespace != route.namespace):
                            continue
                        now_in, was_in = visible(event.obj), visible(event.prev)
                        if event.type == "MODIFIED" and now_in != was_in:
                            kind = "ADDED" if now_in else "DELETED"
                        elif (event.type == "DELETED" and was_in) or now_in:
                            kind = event.type
                        else:
                            continue
                        self._chunk({"type": kind, "object": _present(rtype, event.obj)})
            except ApiError as error:
                # a too-old resourceVersion is reported inside the stream, as the watch cache does
                self._chunk({"type": "ERROR", "object": error.status()})
            if watch.stop.is_set() and watch.abrupt:
                _shutdown(self.connection)
                return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client went away
        finally:
            with emulator._lock:
                emulator._watches.discard(watch)


def _present(rtype: ResourceType, obj: dict) -> dict:
    out = dict(obj)
    out["apiVersion"], out["kind"] = rtype.api_version, rtype.kind
    return out


def store_invalid_binding(name: str) -> ApiError:
    """422 for a Binding without a target."""
    return ApiError(422, "Invalid", f'Binding "{name}" is invalid: target.name: Required value', {
        "name": name, "kind": "Binding", "causes": [{"reason": "FieldValueRequired", "message": "Required value",
                                                     "field": "target.name"}]})


def _reason(code: int) -> str:
    return {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
            400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
            422: "Invalid"}.get(code, "Unknown")


def _not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")
