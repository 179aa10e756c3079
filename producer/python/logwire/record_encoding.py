"""Records and envelopes as FlatBuffers (schema/logwire.fbs), laid out by hand.

A record is encoded on the caller's thread in every log call, so this writer lays the
bytes out front to back with ``struct`` instead of using the flatbuffers package's
Builder, which costs several times as much per record (producer/python/README.md has
the numbers). The tests decode everything written here with the readers flatc
generates, and compare it with what the Builder writes.

A record buffer is a finished FlatBuffer of root type Record without file identifier,
8-aligned relative to its own start and a multiple of 8 bytes long, so the envelope can
place it at any 8-aligned offset and the broker can verify and store it as it is::

    0   uoffset -> table (28)
    4   vtable: u16 size (22), u16 table size, u16 x 9 field offsets (0: absent)
    26  2 bytes padding
    28  table: i32 soffset -> vtable (24)
    32    i64 timestamp_ns                              (8-aligned)
    40    uoffset x k: the present texts, fields, stack_trace, in schema order
    ..    u8 level, padding to 4
    ..  each text: u32 length, UTF-8 bytes, NUL, padding to 4
    ..  fields: u32 count, uoffset x count; one 16-byte vtable per field kind used;
        each Field table (8-aligned for int and double), then its key and value texts
    ..  padding to a multiple of 8

    Field tables, by kind (soffset, then the members the vtable names):
      String  [i32 soffset][uoffset key][uoffset string_value]
      Int     [i32 soffset][uoffset key][i64 int_value][u8 kind=1, 3 padding]
      Double  [i32 soffset][uoffset key][f64 double_value][u8 kind=2, 3 padding]
      Bool    [i32 soffset][uoffset key][u8 kind=3][u8 bool_value][2 padding]

An envelope (file identifier "LWE1") carries record buffers in RecordBuffer tables::

    0   uoffset -> table (28)
    4   "LWE1"
    8   vtable: u16 size (16), u16 table size, u16 x 6 field offsets
    24  4 bytes padding
    28  table: i32 soffset -> vtable (20)
    32    u64 first_sequence, u64 dropped, i64 last_drop_ns, u64 acknowledged
    64    uoffset records, [uoffset producer]
    ..  ProducerIdentity table and its texts, when present (8-aligned)
    ..  records vector: u32 count, uoffset x count
    ..  RecordBuffer vtable (6 bytes, 2 padding)
    ..  per record, at 8k+4: RecordBuffer table [i32 soffset][uoffset bytes], then the
        [ubyte] vector: u32 length and the record buffer, which so starts 8-aligned
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence, Tuple, Union

from .levels import Level
from .protocol import MAX_RECORD_FIELDS

FIELD_STRING = 0
FIELD_INT = 1
FIELD_DOUBLE = 2
FIELD_BOOL = 3

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_ZEROS = [bytes(n) for n in range(8)]

_TERMINATORS = [b"\0" * (1 + n) for n in range(4)]  # NUL and padding to 4

_RECORD_TABLE_AT = 28
_RECORD_SLOTS_AT = 40  # first uoffset slot of the Record table
_RECORD_HEADS = {}


def _record_head(slots: int) -> struct.Struct:
    """root uoffset, Record vtable (size, table size, 9 offsets), padding, soffset,
    timestamp, `slots` uoffsets, level and padding: everything up to the texts."""
    head = _RECORD_HEADS.get(slots)
    if head is None:
        head = _RECORD_HEADS[slots] = struct.Struct(f"<I HH 9H 2x i q {slots}I B 3x")
    return head

_FIELD_VTABLE = {
    # vtable size, table size, offsets of key, kind, string, int, double, bool
    FIELD_STRING: struct.pack("<HH6H", 16, 12, 4, 0, 8, 0, 0, 0),
    FIELD_INT: struct.pack("<HH6H", 16, 20, 4, 16, 0, 8, 0, 0),
    FIELD_DOUBLE: struct.pack("<HH6H", 16, 20, 4, 16, 0, 0, 8, 0),
    FIELD_BOOL: struct.pack("<HH6H", 16, 12, 4, 8, 0, 0, 0, 9),
}
# Field tables: soffset, key uoffset, then the kind's members.
_FIELD_STRING = struct.Struct("<i I I")
_FIELD_INT = struct.Struct("<i I q B 3x")
_FIELD_DOUBLE = struct.Struct("<i I d B 3x")
_FIELD_BOOL = struct.Struct("<i I B B 2x")

# root uoffset, identifier, Envelope vtable (size, table size, 6 offsets), padding,
# soffset, first_sequence, dropped, last_drop_ns, acknowledged, records uoffset.
_ENVELOPE_HEAD = struct.Struct("<I 4s HH 6H 4x i Q Q q Q I")
_ENVELOPE_TABLE_AT = 28
_ENVELOPE_RECORDS_SLOT = 64
_ENVELOPE_PRODUCER_SLOT = 68
_RECORD_BUFFER_VTABLE = struct.pack("<HHH2x", 6, 8, 4)
_RECORD_BUFFER = struct.Struct("<i I I")  # soffset, uoffset -> vector (4), vector length

# ProducerIdentity vtable (size, table size, 6 offsets) and table (soffset, pid,
# instance_id hi/lo, 4 uoffset slots).
_IDENTITY_VTABLE = struct.pack("<HH6H", 16, 40, 24, 28, 4, 8, 32, 36)
_IDENTITY_TABLE = struct.Struct("<i I Q Q 16x")

Fields = Union[Mapping[str, Any], Iterable[Tuple[str, Any]]]


@dataclass(frozen=True)
class ProducerIdentity:
    """Who sends: a producer instance, the identity its sequence numbers count against."""

    service: str
    host: str
    pid: int
    instance_id: int  # 128 bits, hi * 2**64 + lo
    language: str = "python"
    library_version: str = ""

    @property
    def instance_hi(self) -> int:
        """The upper 64 bits, InstanceId.hi on the wire."""
        return self.instance_id >> 64

    @property
    def instance_lo(self) -> int:
        """The lower 64 bits, InstanceId.lo on the wire."""
        return self.instance_id & 0xFFFF_FFFF_FFFF_FFFF

    @property
    def instance_hex(self) -> str:
        """32 lowercase hex digits: how the spool file of this instance is named."""
        return f"{self.instance_id:032x}"


def utf8(text: Any) -> bytes:
    """Text as UTF-8; what is not text is shown with str(), and what cannot be encoded
    (lone surrogates) is replaced, because a log call must never fail over its text."""
    if type(text) is not str:
        try:
            text = str(text)
        except Exception:  # noqa: BLE001 - a broken __str__ must not fail the log call
            text = object.__repr__(text)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def typed_field(value: Any) -> Tuple[int, Any]:
    """The wire kind and value of one field value.

    bool is checked before int because bool is an int subclass; an int outside int64
    and anything that is not str, bool, int or float travel as text so nothing is lost.
    """
    kind = type(value)
    if kind is str:
        return FIELD_STRING, value
    if kind is bool:
        return FIELD_BOOL, value
    if kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            return FIELD_INT, value
        return FIELD_STRING, str(value)
    if kind is float:
        return FIELD_DOUBLE, value
    # Subclasses (IntEnum, str enums, ...) take their base's kind.
    if isinstance(value, bool):
        return FIELD_BOOL, bool(value)
    if isinstance(value, int):
        value = int(value)
        if _INT64_MIN <= value <= _INT64_MAX:
            return FIELD_INT, value
        return FIELD_STRING, str(value)
    if isinstance(value, float):
        return FIELD_DOUBLE, float(value)
    return FIELD_STRING, value  # utf8() shows it with str()


def _put_text(buf: bytearray, data: bytes) -> int:
    """Appends a FlatBuffers string, 4-aligned; returns where it starts."""
    pad = -len(buf) & 3
    if pad:
        buf += _ZEROS[pad]
    at = len(buf)
    buf += _U32.pack(len(data))
    buf += data
    buf += b"\0"
    return at


def _point(buf: bytearray, slot: int, target: int) -> None:
    """Fills the uoffset at `slot` so it refers to `target` (always further on)."""
    _U32.pack_into(buf, slot, target - slot)


def _text_parts(parts: list, data: bytes) -> int:
    """Appends a FlatBuffers string (length, bytes, NUL, padding to 4) as parts; returns
    its size. The caller keeps every string 4-aligned by placing it where one ends."""
    length = len(data)
    pad = -(length + 1) & 3
    parts.append(_U32.pack(length))
    parts.append(data)
    parts.append(_TERMINATORS[pad])
    return 5 + length + pad


def _fields_block(fields: Sequence[Tuple[bytes, int, Any]], start: int) -> Tuple[list, int]:
    """The fields vector, the Field vtables and tables, laid out from `start` (4-aligned);
    returns the parts and where they end (4-aligned)."""
    count = len(fields)
    at = start + 4 + 4 * count
    vtable_at = {}
    parts: list = [None]
    for _, kind, _ in fields:
        if kind not in vtable_at:
            vtable_at[kind] = at
            parts.append(_FIELD_VTABLE[kind])
            at += 16
    entries = []
    slot = start + 4
    for key, kind, value in fields:
        # Everything ends on 4; a table with an i64 or f64 starts on 8.
        if (kind == FIELD_INT or kind == FIELD_DOUBLE) and at & 4:
            parts.append(_ZEROS[4])
            at += 4
        table = at
        entries.append(table - slot)
        slot += 4
        soffset = table - vtable_at[kind]
        if kind == FIELD_STRING:
            key_at = table + 12
            parts.append(None)
            header = len(parts) - 1
            key_size = _text_parts(parts, key)
            value_size = _text_parts(parts, value)
            parts[header] = _FIELD_STRING.pack(soffset, key_at - table - 4,
                                               key_at + key_size - table - 8)
            at = key_at + key_size + value_size
            continue
        if kind == FIELD_INT:
            parts.append(_FIELD_INT.pack(soffset, 16, value, FIELD_INT))
            at = table + 20
        elif kind == FIELD_DOUBLE:
            parts.append(_FIELD_DOUBLE.pack(soffset, 16, value, FIELD_DOUBLE))
            at = table + 20
        else:
            parts.append(_FIELD_BOOL.pack(soffset, 8, FIELD_BOOL, 1 if value else 0))
            at = table + 12
        at += _text_parts(parts, key)  # the key right after its table
    parts[0] = struct.pack(f"<{count + 1}I", count, *entries)
    return parts, at


def encode_fields(fields: Optional[Fields]) -> list:
    """Typed, UTF-8 encoded (key, kind, value) triples, in the order given."""
    if not fields:
        return []
    items = fields.items() if isinstance(fields, Mapping) else fields
    out = []
    for key, value in items:
        kind, value = typed_field(value)
        out.append((utf8(key), kind, utf8(value) if kind == FIELD_STRING else value))
    return out


def encode_record(
    message: Any,
    *,
    timestamp_ns: int,
    level: int = Level.INFO,
    service: Optional[str] = None,
    request_id: Optional[str] = None,
    traceparent: Optional[str] = None,
    span_id: Optional[str] = None,
    fields: Optional[Fields] = None,
    stack_trace: Optional[str] = None,
    typed_fields: Optional[Sequence[Tuple[str, int, Any]]] = None,
) -> bytes:
    """One Record buffer. Empty texts are left out (the reader shows them as empty).

    `fields` are typed by typed_field(); `typed_fields` (key, FIELD_*, value) are taken
    as they are, for callers that know the kinds (the shared test vectors). Raises only
    for a timestamp or value outside its wire type (struct.error), which Producer.log
    turns into a counted refusal, and ValueError for more fields than the broker takes.
    """
    slots = []  # (vtable index, payload), in vtable order
    for index, text in ((2, service), (3, message), (4, request_id), (5, traceparent),
                        (6, span_id)):
        if text is not None:
            data = utf8(text)
            if data:
                slots.append((index, data))
    if typed_fields is not None:
        typed = [(utf8(key), kind, utf8(value) if kind == FIELD_STRING else value)
                 for key, kind, value in typed_fields]
    else:
        typed = encode_fields(fields) if fields else None
    if typed:
        if len(typed) > MAX_RECORD_FIELDS:
            raise ValueError(f"{len(typed)} fields; a record holds at most "
                             f"{MAX_RECORD_FIELDS}")
        slots.append((7, typed))
    if stack_trace is not None:
        data = utf8(stack_trace)
        if data:
            slots.append((8, data))

    count = len(slots)
    vtable = [4, 12 + 4 * count, 0, 0, 0, 0, 0, 0, 0]
    uoffsets = []
    parts: list = [None]
    at = _RECORD_SLOTS_AT + 4 * count + 4  # after the slots, the level and its padding
    slot = _RECORD_SLOTS_AT
    for i, (index, payload) in enumerate(slots):
        vtable[index] = 12 + 4 * i
        uoffsets.append(at - slot)
        slot += 4
        if index == 7:
            block, at = _fields_block(payload, at)
            parts.extend(block)
        else:
            at += _text_parts(parts, payload)
    if at & 7:
        parts.append(_ZEROS[4])
    parts[0] = _record_head(count).pack(
        _RECORD_TABLE_AT, 22, 16 + 4 * count, *vtable, _RECORD_TABLE_AT - 4, timestamp_ns,
        *uoffsets, int(level))
    return b"".join(parts)


def _put_identity(buf: bytearray, identity: ProducerIdentity) -> int:
    """Appends a ProducerIdentity table (8-aligned) and its texts; returns the table."""
    pad = (-len(buf) - len(_IDENTITY_VTABLE)) & 7
    if pad:
        buf += _ZEROS[pad]
    vtable = len(buf)
    buf += _IDENTITY_VTABLE
    table = len(buf)
    buf += _IDENTITY_TABLE.pack(
        table - vtable, identity.pid & 0xFFFF_FFFF,
        identity.instance_hi, identity.instance_lo)
    for slot, text in ((24, identity.service), (28, identity.host),
                       (32, identity.language), (36, identity.library_version)):
        _point(buf, table + slot, _put_text(buf, utf8(text)))
    return table


def encode_envelope(
    first_sequence: int,
    records: Sequence[bytes],
    *,
    dropped: int = 0,
    last_drop_ns: int = 0,
    acknowledged: int = 0,
    producer: Optional[ProducerIdentity] = None,
) -> bytes:
    """A DATA body: record buffers (from encode_record) with sequences first_sequence,
    first_sequence + 1, ...; the records this instance refused before they got a
    sequence so far (and when the latest was); the highest ACK it has had."""
    with_producer = producer is not None
    # vtable, in schema order: producer, first_sequence, records, dropped, last_drop_ns,
    # acknowledged (offsets in the table).
    head = _ENVELOPE_HEAD.pack(
        _ENVELOPE_TABLE_AT, b"LWE1", 16, 44 if with_producer else 40,
        40 if with_producer else 0, 4, 36, 12, 20, 28,
        _ENVELOPE_TABLE_AT - 8, first_sequence, dropped, last_drop_ns, acknowledged, 0)
    buf = bytearray(head)
    if with_producer:
        buf += _ZEROS[4]
        _point(buf, _ENVELOPE_PRODUCER_SLOT, _put_identity(buf, producer))
        pad = -len(buf) & 3
        if pad:
            buf += _ZEROS[pad]
    vector = len(buf)
    _point(buf, _ENVELOPE_RECORDS_SLOT, vector)
    buf += _U32.pack(len(records))
    buf += bytes(4 * len(records))
    vtable = len(buf)
    buf += _RECORD_BUFFER_VTABLE
    slot = vector + 4
    for record in records:
        pad = (4 - len(buf)) & 7
        if pad:
            buf += _ZEROS[pad]
        table = len(buf)
        _point(buf, slot, table)
        slot += 4
        buf += _RECORD_BUFFER.pack(table - vtable, 4, len(record))
        buf += record
    return bytes(buf)

