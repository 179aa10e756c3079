"""Records and envelopes built with the flatbuffers package's Builder and the code flatc
generates: the reference the hand-written writer (logwire.record_encoding) is checked
against, and the alternative it was measured against (producer/python/README.md)."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import flatbuffers
from logwire.wire import Envelope as _envelope
from logwire.wire import Field as _field
from logwire.wire import Record as _record
from logwire.wire import RecordBuffer as _record_buffer

from logwire.record_encoding import (FIELD_BOOL, FIELD_DOUBLE, FIELD_INT, FIELD_STRING,
                                     encode_fields)


def build_record(message: str, *, timestamp_ns: int, level: int = 2,
                 service: Optional[str] = None, request_id: Optional[str] = None,
                 traceparent: Optional[str] = None, span_id: Optional[str] = None,
                 fields: Any = None, stack_trace: Optional[str] = None) -> bytes:
    """A Record buffer, as the generated builder functions make it."""
    builder = flatbuffers.Builder(256)
    typed: Sequence[Tuple[bytes, int, Any]] = encode_fields(fields)
    field_tables = []
    for key, kind, value in typed:
        key_at = builder.CreateString(key)
        text_at = builder.CreateString(value) if kind == FIELD_STRING else None
        _field.Start(builder)
        _field.AddKey(builder, key_at)
        _field.AddKind(builder, kind)
        if kind == FIELD_STRING:
            _field.AddStringValue(builder, text_at)
        elif kind == FIELD_INT:
            _field.AddIntValue(builder, value)
        elif kind == FIELD_DOUBLE:
            _field.AddDoubleValue(builder, value)
        elif kind == FIELD_BOOL:
            _field.AddBoolValue(builder, value)
        field_tables.append(_field.End(builder))
    fields_at = None
    if field_tables:
        _record.StartFieldsVector(builder, len(field_tables))
        for table in reversed(field_tables):
            builder.PrependUOffsetTRelative(table)
        fields_at = builder.EndVector()
    texts = {name: builder.CreateString(value) for name, value in (
        ("service", service), ("message", message), ("request_id", request_id),
        ("traceparent", traceparent), ("span_id", span_id), ("stack_trace", stack_trace))
        if value}
    _record.Start(builder)
    _record.AddTimestampNs(builder, timestamp_ns)
    _record.AddLevel(builder, level)
    if "service" in texts:
        _record.AddService(builder, texts["service"])
    if "message" in texts:
        _record.AddMessage(builder, texts["message"])
    if "request_id" in texts:
        _record.AddRequestId(builder, texts["request_id"])
    if "traceparent" in texts:
        _record.AddTraceparent(builder, texts["traceparent"])
    if "span_id" in texts:
        _record.AddSpanId(builder, texts["span_id"])
    if fields_at is not None:
        _record.AddFields(builder, fields_at)
    if "stack_trace" in texts:
        _record.AddStackTrace(builder, texts["stack_trace"])
    builder.Finish(_record.End(builder))
    return bytes(builder.Output())


def build_envelope(first_sequence: int, records: Sequence[bytes], *, dropped: int = 0,
                   last_drop_ns: int = 0, acknowledged: int = 0) -> bytes:
    """An Envelope of record buffers, as the generated builder functions make it."""
    builder = flatbuffers.Builder(1024)
    buffers = []
    for record in records:
        builder.StartVector(1, len(record), 8)
        builder.head -= len(record)
        builder.Bytes[builder.head:builder.head + len(record)] = record
        bytes_at = builder.EndVector()
        _record_buffer.Start(builder)
        _record_buffer.AddBytes(builder, bytes_at)
        buffers.append(_record_buffer.End(builder))
    _envelope.StartRecordsVector(builder, len(buffers))
    for table in reversed(buffers):
        builder.PrependUOffsetTRelative(table)
    records_at = builder.EndVector()
    _envelope.Start(builder)
    _envelope.AddFirstSequence(builder, first_sequence)
    _envelope.AddRecords(builder, records_at)
    _envelope.AddDropped(builder, dropped)
    _envelope.AddLastDropNs(builder, last_drop_ns)
    _envelope.AddAcknowledged(builder, acknowledged)
    builder.Finish(_envelope.End(builder), file_identifier=b"LWE1")
    return bytes(builder.Output())
