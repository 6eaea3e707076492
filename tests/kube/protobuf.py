"""Decoding of Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``) for Secrets and
ConfigMaps — what client-go programs such as Helm send when they store releases.

No PyPI package ships current generated code for the ``k8s.io/api`` protos (``k8s-proto`` is from 2019 and built
for protobuf 3), so the few messages involved are declared here as descriptors, with the field numbers of
``k8s.io/apimachinery/pkg/runtime/generated.proto`` (``Unknown``, ``TypeMeta``),
``k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto`` (``ObjectMeta``) and ``k8s.io/api/core/v1/generated.proto``
(``Secret``, ``ConfigMap``), and parsed by the ``protobuf`` package. Fields not declared here (timestamps, owner
references, managed fields) are skipped: the server sets or keeps them.

Wire format: the 4-byte magic ``k8s\\0``, then a ``runtime.Unknown`` whose ``typeMeta`` names the kind and whose
``raw`` holds the object's own message.
"""
from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

_F = descriptor_pb2.FieldDescriptorProto
_STRING, _BYTES, _BOOL, _INT64, _MESSAGE = _F.TYPE_STRING, _F.TYPE_BYTES, _F.TYPE_BOOL, _F.TYPE_INT64, _F.TYPE_MESSAGE
_OPTIONAL, _REPEATED = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
_PACKAGE = "edge.emulator.k8s"


def _message(file, name: str, fields: list[tuple], maps: dict[str, tuple[int, int]] | None = None):
    """Add a message: ``fields`` are (name, number, type, label, type_name); ``maps`` name → (number, value type)."""
    msg = file.message_type.add(name=name)
    for field_name, number, ftype, label, type_name in fields:
        entry = msg.field.add(name=field_name, number=number, type=ftype, label=label, json_name=field_name)
        if type_name:
            entry.type_name = f".{_PACKAGE}.{type_name}"
    for field_name, (number, value_type) in (maps or {}).items():
        entry_name = field_name[0].upper() + field_name[1:] + "Entry"
        nested = msg.nested_type.add(name=entry_name)
        nested.options.map_entry = True
        nested.field.add(name="key", number=1, type=_STRING, label=_OPTIONAL, json_name="key")
        nested.field.add(name="value", number=2, type=value_type, label=_OPTIONAL, json_name="value")
        msg.field.add(name=field_name, number=number, type=_MESSAGE, label=_REPEATED, json_name=field_name,
                      type_name=f".{_PACKAGE}.{name}.{entry_name}")


def _build() -> dict:
    file = descriptor_pb2.FileDescriptorProto(name="edge_emulator_k8s.proto", package=_PACKAGE, syntax="proto2")
    _message(file, "TypeMeta", [("apiVersion", 1, _STRING, _OPTIONAL, None), ("kind", 2, _STRING, _OPTIONAL, None)])
    _message(file, "Unknown", [("typeMeta", 1, _MESSAGE, _OPTIONAL, "TypeMeta"), ("raw", 2, _BYTES, _OPTIONAL, None),
                               ("contentEncoding", 3, _STRING, _OPTIONAL, None),
                               ("contentType", 4, _STRING, _OPTIONAL, None)])
    _message(file, "ObjectMeta", [("name", 1, _STRING, _OPTIONAL, None), ("generateName", 2, _STRING, _OPTIONAL, None),
                                  ("namespace", 3, _STRING, _OPTIONAL, None), ("uid", 5, _STRING, _OPTIONAL, None),
                                  ("resourceVersion", 6, _STRING, _OPTIONAL, None),
                                  ("generation", 7, _INT64, _OPTIONAL, None),
                                  ("finalizers", 14, _STRING, _REPEATED, None)],
             {"labels": (11, _STRING), "annotations": (12, _STRING)})
    _message(file, "Secret", [("metadata", 1, _MESSAGE, _OPTIONAL, "ObjectMeta"), ("type", 3, _STRING, _OPTIONAL, None),
                              ("immutable", 5, _BOOL, _OPTIONAL, None)],
             {"data": (2, _BYTES), "stringData": (4, _STRING)})
    _message(file, "ConfigMap", [("metadata", 1, _MESSAGE, _OPTIONAL, "ObjectMeta"),
                                 ("immutable", 4, _BOOL, _OPTIONAL, None)],
             {"data": (2, _STRING), "binaryData": (3, _BYTES)})
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
            for name in ("Unknown", "Secret", "ConfigMap")}


_MESSAGES = _build()
#: (apiVersion, kind) → message class of the kinds this module can decode
KINDS = {("v1", "Secret"): _MESSAGES["Secret"], ("v1", "ConfigMap"): _MESSAGES["ConfigMap"]}


class UnsupportedKind(ValueError):
    """The body is a kind this decoder does not know."""


def decode(body: bytes) -> dict:
    """A protobuf-encoded Secret or ConfigMap as the dict its JSON encoding would give (``data`` of a Secret in
    base64, as in JSON). Raises ``ValueError`` for anything else."""
    if not body.startswith(MAGIC):
        raise ValueError("not a Kubernetes protobuf body (missing the k8s\\0 prefix)")
    envelope = _MESSAGES["Unknown"].FromString(body[len(MAGIC):])
    api_version, kind = envelope.typeMeta.apiVersion, envelope.typeMeta.kind
    message = KINDS.get((api_version, kind))
    if message is None:
        raise UnsupportedKind(f"protobuf bodies of {api_version}/{kind} are not supported by the emulator")
    document = json_format.MessageToDict(message.FromString(envelope.raw), preserving_proto_field_name=True)
    generation = document.get("metadata", {}).get("generation")
    if generation is not None:
        document["metadata"]["generation"] = int(generation)  # int64 comes out of MessageToDict as a string
    return {"apiVersion": api_version, "kind": kind, **document}


def encode(obj: dict) -> bytes:
    """The protobuf body of a Secret or ConfigMap dict (the inverse of ``decode``; used to test it)."""
    api_version, kind = obj.get("apiVersion", "v1"), obj["kind"]
    message = json_format.ParseDict({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")},
                                    KINDS[(api_version, kind)]())
    envelope = _MESSAGES["Unknown"](raw=message.SerializeToString())
    envelope.typeMeta.apiVersion, envelope.typeMeta.kind = api_version, kind
    return MAGIC + envelope.SerializeToString()


def body_decoder(body: bytes) -> dict:
    """``decode`` as an emulator body decoder: unknown kinds answer 415, malformed bodies 400."""
    from google.protobuf.message import DecodeError

    from .store import ApiError, bad_request

    try:
        return decode(body)
    except UnsupportedKind as error:
        raise ApiError(415, "UnsupportedMediaType", str(error))
    except (ValueError, DecodeError) as error:
        raise bad_request(f"error decoding protobuf: {error}")
