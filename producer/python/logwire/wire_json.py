"""An envelope's decoded form, as the shared test vectors (tests/vectors/*.json) hold it.

Every implementation decodes every vector and must arrive at the same JSON, so this form
has no optional keys: absent texts are "", absent numbers 0, an absent producer null.
Decoding goes through the generated readers, never through this package's writer, so a
vector checks the writer against flatc's idea of the schema.
"""

from __future__ import annotations

from typing import Any, Dict, List

from logwire.wire import Envelope as _envelope
from logwire.wire import Record as _record

from .levels import Level
from .messages import _text, identity_from_reader
from .record_encoding import (FIELD_BOOL, FIELD_DOUBLE, FIELD_INT, FIELD_STRING,
                              ProducerIdentity, encode_envelope, encode_record)

_KIND_NAMES = {FIELD_STRING: "string", FIELD_INT: "int", FIELD_DOUBLE: "double",
               FIELD_BOOL: "bool"}
_KINDS = {name: kind for kind, name in _KIND_NAMES.items()}


def level_name(value: int) -> str:
    """The name of a wire level; an unknown one reads as INFO (schema evolution rule)."""
    try:
        return Level(value).name
    except ValueError:
        return "INFO"


def record_to_dict(buf: bytes) -> Dict[str, Any]:
    """A Record buffer in the vectors' form."""
    record = _record.Record.GetRootAs(buf, 0)
    fields: List[Dict[str, Any]] = []
    for i in range(record.FieldsLength()):
        field = record.Fields(i)
        kind = field.Kind()
        if kind == FIELD_STRING:
            value: Any = _text(field.StringValue())
        elif kind == FIELD_INT:
            value = field.IntValue()
        elif kind == FIELD_DOUBLE:
            value = field.DoubleValue()
        elif kind == FIELD_BOOL:
            value = bool(field.BoolValue())
        else:
            continue  # a kind from a newer schema: absent, per the evolution rule
        fields.append({"key": _text(field.Key()), "kind": _KIND_NAMES[kind], "value": value})
    return {
        "timestampNs": record.TimestampNs(),
        "level": level_name(record.Level()),
        "service": _text(record.Service()),
        "message": _text(record.Message()),
        "requestId": _text(record.RequestId()),
        "traceparent": _text(record.Traceparent()),
        "spanId": _text(record.SpanId()),
        "fields": fields,
        "stackTrace": _text(record.StackTrace()),
    }


def record_buffers(body: bytes) -> List[bytes]:
    """The record buffers of an Envelope, as the bytes they were sent as."""
    envelope = _envelope.Envelope.GetRootAs(body, 0)
    out = []
    for i in range(envelope.RecordsLength()):
        table = envelope.Records(i)._tab
        at = table.Offset(4)
        if at == 0:
            out.append(b"")
            continue
        start = table.Vector(at)
        out.append(bytes(table.Bytes[start:start + table.VectorLen(at)]))
    return out


def identity_to_dict(identity: ProducerIdentity) -> Dict[str, Any]:
    """A producer identity in the vectors' form."""
    return {
        "service": identity.service,
        "host": identity.host,
        "pid": identity.pid,
        "instanceId": {"hi": identity.instance_hi, "lo": identity.instance_lo},
        "language": identity.language,
        "libraryVersion": identity.library_version,
    }


def envelope_to_dict(body: bytes) -> Dict[str, Any]:
    """An Envelope (a DATA body, or a vector's .bin) in the vectors' form."""
    envelope = _envelope.Envelope.GetRootAs(body, 0)
    producer = envelope.Producer()
    return {
        "producer": identity_to_dict(identity_from_reader(producer)) if producer else None,
        "firstSequence": envelope.FirstSequence(),
        "dropped": envelope.Dropped(),
        "lastDropNs": envelope.LastDropNs(),
        "acknowledged": envelope.Acknowledged(),
        "records": [record_to_dict(buf) for buf in record_buffers(body)],
    }


def envelope_acknowledged(body: bytes) -> int:
    """An Envelope's `acknowledged`: the highest ACK its producer had."""
    return _envelope.Envelope.GetRootAs(body, 0).Acknowledged()


def envelope_from_dict(form: Dict[str, Any]) -> bytes:
    """The Envelope this package's writer makes of a vector's decoded form."""
    producer = form["producer"]
    identity = None
    if producer is not None:
        identity = ProducerIdentity(
            service=producer["service"], host=producer["host"], pid=producer["pid"],
            instance_id=(producer["instanceId"]["hi"] << 64) | producer["instanceId"]["lo"],
            language=producer["language"], library_version=producer["libraryVersion"])
    records = [
        encode_record(
            r["message"], timestamp_ns=r["timestampNs"], level=Level[r["level"]],
            service=r["service"], request_id=r["requestId"], traceparent=r["traceparent"],
            span_id=r["spanId"], stack_trace=r["stackTrace"],
            typed_fields=[(f["key"], _KINDS[f["kind"]], f["value"]) for f in r["fields"]])
        for r in form["records"]
    ]
    return encode_envelope(form["firstSequence"], records, dropped=form["dropped"],
                           last_drop_ns=form["lastDropNs"],
                           acknowledged=form["acknowledged"], producer=identity)
