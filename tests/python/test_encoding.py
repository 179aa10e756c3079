"""The hand-written FlatBuffers writer, checked against the readers flatc generates, the
flatbuffers package's Builder, and the layout rules the broker's Verifier enforces."""

from __future__ import annotations

import enum
import random
import struct

import pytest
from logwire.wire.Envelope import Envelope
from logwire.wire.FieldKind import FieldKind
from logwire.wire.Record import Record

from logwire.levels import Level
from logwire.messages import (MalformedMessage, decode_ack, decode_hello,
                              decode_identity, decode_refusal, decode_welcome, encode_ack,
                              encode_hello, encode_identity, encode_refusal,
                              encode_welcome)
from logwire.record_encoding import (FIELD_BOOL, FIELD_DOUBLE, FIELD_INT, FIELD_STRING,
                                     ProducerIdentity, encode_envelope, encode_record,
                                     typed_field)
from logwire.wire_json import (envelope_acknowledged, envelope_to_dict, record_buffers,
                               record_to_dict)
from reference_builder import build_envelope, build_record

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
IDENTITY = ProducerIdentity(service="api-server", host="host-1", pid=4242,
                            instance_id=(0xDEADBEEF << 64) | 0x1234, language="python",
                            library_version="0.1.0")


# --- a small Verifier: the alignment and bounds rules flatbuffers::Verifier checks ------

def _u32(buf: bytes, at: int) -> int:
    return struct.unpack_from("<I", buf, at)[0]


def _check_table(buf: bytes, table: int, scalar_sizes: dict) -> dict:
    """Checks a table's vtable and scalar alignment; returns {field index: offset}."""
    assert table % 4 == 0 and table + 4 <= len(buf)
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    assert vtable % 2 == 0 and 0 <= vtable and vtable + 4 <= len(buf)
    vtable_size, table_size = struct.unpack_from("<HH", buf, vtable)
    assert vtable_size % 2 == 0 and vtable + vtable_size <= len(buf)
    assert table + table_size <= len(buf)
    fields = {}
    for index in range((vtable_size - 4) // 2):
        offset = struct.unpack_from("<H", buf, vtable + 4 + 2 * index)[0]
        if offset:
            size = scalar_sizes.get(index, 4)
            assert offset + size <= table_size
            assert (table + offset) % size == 0, f"field {index} misaligned"
            fields[index] = table + offset
    return fields


def _check_offset(buf: bytes, at: int) -> int:
    target = at + _u32(buf, at)
    assert _u32(buf, at) != 0 and target < len(buf)
    return target


def _check_string(buf: bytes, at: int) -> None:
    string = _check_offset(buf, at)
    assert string % 4 == 0
    length = _u32(buf, string)
    assert string + 4 + length < len(buf) and buf[string + 4 + length] == 0


def check_record_layout(buf: bytes) -> None:
    """Fails unless `buf` is a Record buffer the broker's Verifier accepts."""
    assert len(buf) % 8 == 0
    table = _check_offset(buf, 0)
    fields = _check_table(buf, table, {0: 8, 1: 1})
    for index in (2, 3, 4, 5, 6, 8):
        if index in fields:
            _check_string(buf, fields[index])
    if 7 in fields:
        vector = _check_offset(buf, fields[7])
        assert vector % 4 == 0
        for i in range(_u32(buf, vector)):
            field_table = _check_offset(buf, vector + 4 + 4 * i)
            members = _check_table(buf, field_table, {1: 1, 3: 8, 4: 8, 5: 1})
            _check_string(buf, members[0])  # key is required
            if 2 in members:
                _check_string(buf, members[2])


# --- records -----------------------------------------------------------------------------

def test_record_decodes_field_by_field_with_the_generated_reader():
    buf = encode_record(
        "Payment gateway timeout", timestamp_ns=1_700_000_000_123_456_789, level=Level.ERROR,
        service="billing", request_id="req-12345", traceparent=TRACEPARENT,
        span_id="span-789",
        fields={"gateway": "stripe", "timeoutMs": 5000, "ratio": 0.25, "retryable": True},
        stack_trace="Traceback (most recent call last):\n  ...")
    record = Record.GetRootAs(buf, 0)
    assert record.TimestampNs() == 1_700_000_000_123_456_789
    assert record.Level() == Level.ERROR
    assert record.Service() == b"billing"
    assert record.Message() == b"Payment gateway timeout"
    assert record.RequestId() == b"req-12345"
    assert record.Traceparent() == TRACEPARENT.encode()
    assert record.SpanId() == b"span-789"
    assert record.StackTrace() == b"Traceback (most recent call last):\n  ..."
    assert record.FieldsLength() == 4
    gateway, timeout, ratio, retryable = (record.Fields(i) for i in range(4))
    assert (gateway.Key(), gateway.Kind(), gateway.StringValue()) == (
        b"gateway", FieldKind.String, b"stripe")
    assert (timeout.Key(), timeout.Kind(), timeout.IntValue()) == (
        b"timeoutMs", FieldKind.Int, 5000)
    assert (ratio.Key(), ratio.Kind(), ratio.DoubleValue()) == (
        b"ratio", FieldKind.Double, 0.25)
    assert (retryable.Key(), retryable.Kind(), retryable.BoolValue()) == (
        b"retryable", FieldKind.Bool, True)
    check_record_layout(buf)


def test_absent_texts_are_left_out_and_read_as_empty():
    buf = encode_record("", timestamp_ns=5)
    record = Record.GetRootAs(buf, 0)
    assert record.Message() is None and record.Service() is None
    assert record.FieldsLength() == 0 and record.Level() == Level.INFO
    assert record_to_dict(buf)["message"] == ""
    check_record_layout(buf)


def _random_text(rng: random.Random) -> str:
    return rng.choice(["", "a", "ab", "abc", "abcd", "äöü", "€", "😀 emoji", "x" * 37,
                       "line\nbreak\ttab", "nul\0inside"])


def _random_value(rng: random.Random):
    return rng.choice([0, 1, -1, 2**63 - 1, -2**63, 2**63, -2**63 - 1, 0.0, -1.5, 1e308,
                       True, False, "", "text", "😀", None, 3.25])


@pytest.mark.parametrize("seed", range(5))
def test_hand_written_records_equal_the_builders_and_pass_the_layout_rules(seed):
    rng = random.Random(seed)
    for _ in range(60):
        kwargs = dict(
            timestamp_ns=rng.randrange(-2**63, 2**63), level=rng.randrange(6),
            service=_random_text(rng), request_id=_random_text(rng),
            traceparent=_random_text(rng), span_id=_random_text(rng),
            stack_trace=_random_text(rng),
            fields={f"k{i}{_random_text(rng)}": _random_value(rng)
                    for i in range(rng.randrange(9))})
        message = _random_text(rng)
        mine = encode_record(message, **kwargs)
        check_record_layout(mine)
        assert record_to_dict(mine) == record_to_dict(build_record(message, **kwargs))


def test_lone_surrogates_are_replaced_not_raised():
    buf = encode_record("bad \udc80 text", timestamp_ns=1, fields={"k\ud800": "v\udfff"})
    decoded = record_to_dict(buf)
    assert decoded["message"] == "bad ? text"
    assert decoded["fields"] == [{"key": "k?", "kind": "string", "value": "v?"}]


def test_more_fields_than_the_broker_takes_is_an_error():
    with pytest.raises(ValueError):
        encode_record("m", timestamp_ns=1, fields={str(i): i for i in range(10_001)})


# --- field typing ------------------------------------------------------------------------

class Color(enum.IntEnum):
    RED = 3


class Unprintable:
    def __str__(self):
        raise RuntimeError("no")


@pytest.mark.parametrize("value, kind, wire", [
    ("text", FIELD_STRING, "text"),
    (True, FIELD_BOOL, True),
    (False, FIELD_BOOL, False),
    (0, FIELD_INT, 0),
    (2**63 - 1, FIELD_INT, 2**63 - 1),
    (-2**63, FIELD_INT, -2**63),
    (2**63, FIELD_STRING, str(2**63)),
    (-2**63 - 1, FIELD_STRING, str(-2**63 - 1)),
    (1.5, FIELD_DOUBLE, 1.5),
    (Color.RED, FIELD_INT, 3),
    (None, FIELD_STRING, "None"),
    ([1, 2], FIELD_STRING, "[1, 2]"),
    ({"a": 1}, FIELD_STRING, "{'a': 1}"),
])
def test_field_values_keep_their_type_or_travel_as_text(value, kind, wire):
    assert typed_field(value)[0] == kind
    decoded = record_to_dict(encode_record("m", timestamp_ns=1, fields={"k": value}))
    (field,) = decoded["fields"]
    assert field["value"] == wire
    assert field["kind"] == {FIELD_STRING: "string", FIELD_INT: "int",
                             FIELD_DOUBLE: "double", FIELD_BOOL: "bool"}[kind]


def test_bool_is_checked_before_int():
    (field,) = record_to_dict(encode_record("m", timestamp_ns=1,
                                            fields={"ok": True}))["fields"]
    assert field == {"key": "ok", "kind": "bool", "value": True}


def test_a_value_whose_str_fails_is_still_shown():
    (field,) = record_to_dict(encode_record("m", timestamp_ns=1,
                                            fields={"k": Unprintable()}))["fields"]
    assert field["kind"] == "string" and "Unprintable object" in field["value"]


def test_fields_may_be_pairs_in_order():
    decoded = record_to_dict(encode_record("m", timestamp_ns=1,
                                           fields=[("b", 1), ("a", 2), ("b", 3)]))
    assert [(f["key"], f["value"]) for f in decoded["fields"]] == [("b", 1), ("a", 2),
                                                                   ("b", 3)]


# --- envelopes ---------------------------------------------------------------------------

def test_envelope_decodes_field_by_field_with_the_generated_reader():
    records = [encode_record(f"record {i}", timestamp_ns=1000 + i, level=i % 6,
                             fields={"seq": i}) for i in range(3)]
    body = encode_envelope(41, records, dropped=7, last_drop_ns=123_456_789,
                           acknowledged=39, producer=IDENTITY)
    assert body[4:8] == b"LWE1"
    envelope = Envelope.GetRootAs(body, 0)
    assert Envelope.EnvelopeBufferHasIdentifier(body, 0)
    assert envelope.FirstSequence() == 41
    assert envelope.Dropped() == 7
    assert envelope.LastDropNs() == 123_456_789
    assert envelope.Acknowledged() == 39
    producer = envelope.Producer()
    assert producer.Service() == b"api-server" and producer.Host() == b"host-1"
    assert producer.Pid() == 4242
    assert (producer.InstanceId().Hi(), producer.InstanceId().Lo()) == (0xDEADBEEF, 0x1234)
    assert producer.Language() == b"python" and producer.LibraryVersion() == b"0.1.0"
    assert envelope.RecordsLength() == 3
    for i, buf in enumerate(record_buffers(body)):
        assert buf == records[i]
        record = Record.GetRootAs(buf, 0)
        assert record.Message() == f"record {i}".encode()
        assert record.TimestampNs() == 1000 + i and record.Level() == i % 6


def test_record_buffers_sit_8_aligned_in_the_envelope():
    records = [encode_record("x" * n, timestamp_ns=n, fields={"n": n}) for n in range(20)]
    body = encode_envelope(0, records)
    envelope = Envelope.GetRootAs(body, 0)
    for i in range(envelope.RecordsLength()):
        table = envelope.Records(i)._tab
        assert table.Vector(table.Offset(4)) % 8 == 0


def test_envelope_equals_the_builders():
    records = [encode_record(f"r{i}", timestamp_ns=i, fields={"i": i}) for i in range(5)]
    mine = encode_envelope(3, records, dropped=2, last_drop_ns=9, acknowledged=3)
    theirs = build_envelope(3, records, dropped=2, last_drop_ns=9, acknowledged=3)
    assert envelope_to_dict(mine) == envelope_to_dict(theirs)
    assert envelope_acknowledged(mine) == envelope_acknowledged(theirs) == 3


def test_an_empty_envelope_carries_only_the_drop_count():
    decoded = envelope_to_dict(encode_envelope(17, [], dropped=5, last_drop_ns=77))
    assert decoded == {"producer": None, "firstSequence": 17, "dropped": 5,
                       "lastDropNs": 77, "acknowledged": 0, "records": []}


# --- the other messages --------------------------------------------------------------------

def test_hello_and_identity_round_trip():
    assert decode_hello(encode_hello(IDENTITY)) == IDENTITY
    assert decode_identity(encode_identity(IDENTITY)) == IDENTITY


def test_replies_decode():
    welcome = decode_welcome(encode_welcome(12, 1000, 1 << 25, "0.1.0"))
    assert (welcome.next_sequence, welcome.heartbeat_interval_ms,
            welcome.max_message_bytes, welcome.broker_version) == (12, 1000, 1 << 25, "0.1.0")
    assert decode_ack(encode_ack(2**64 - 1)) == 2**64 - 1
    refusal = decode_refusal(encode_refusal("no_session", "send HELLO"))
    assert (refusal.code, refusal.message) == ("no_session", "send HELLO")


@pytest.mark.parametrize("body", [b"", b"\x01", b"\xff" * 3, b"\xff\xff\xff\x7f" * 4])
def test_hostile_replies_are_malformed_not_crashes(body):
    for decode in (decode_welcome, decode_ack, decode_refusal, decode_hello,
                   decode_identity):
        try:
            decode(body)
        except MalformedMessage:
            pass


def test_random_bytes_never_raise_anything_but_malformed():
    rng = random.Random(7)
    for _ in range(500):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        for decode in (decode_welcome, decode_ack, decode_refusal):
            try:
                decode(body)
            except MalformedMessage:
                pass


def test_a_message_that_is_not_text_is_shown_even_when_falsy():
    assert record_to_dict(encode_record(0, timestamp_ns=1))["message"] == "0"
    assert record_to_dict(encode_record(False, timestamp_ns=1,
                                        request_id=0))["requestId"] == "0"
