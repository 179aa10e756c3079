"""HELLO's body and the broker's replies, through the code flatc generates.

The generated package ``logwire.wire`` is produced at build time from schema/logwire.fbs
(``flatc --python``) and is never committed; it joins this package through
``pkgutil.extend_path`` when its directory is on sys.path (see README.md). A reply from
the broker is read as hostile input: anything that does not decode is MalformedMessage,
never another exception.
"""

from __future__ import annotations

from dataclasses import dataclass

try:
    import flatbuffers
    from logwire.wire import Ack as _ack
    from logwire.wire import Hello as _hello
    from logwire.wire import InstanceId as _instance_id
    from logwire.wire import ProducerIdentity as _identity
    from logwire.wire import Refusal as _refusal
    from logwire.wire import Welcome as _welcome
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError(
        "logwire needs python3-flatbuffers and the code flatc generates from "
        "schema/logwire.fbs (the package logwire.wire): build the project, or run "
        "`flatc --python -o DIR schema/logwire.fbs`, and put DIR on PYTHONPATH next to "
        f"producer/python (see producer/python/README.md). Import failed: {error}"
    ) from error

from .record_encoding import ProducerIdentity


class MalformedMessage(ValueError):
    """A message body that is not what its command says."""


@dataclass(frozen=True)
class Welcome:
    """The broker's answer to HELLO."""

    next_sequence: int
    heartbeat_interval_ms: int
    max_message_bytes: int
    broker_version: str


@dataclass(frozen=True)
class Refusal:
    """The body of an ERROR reply."""

    code: str
    message: str


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


def _build_identity(builder: flatbuffers.Builder, identity: ProducerIdentity) -> int:
    service = builder.CreateString(identity.service)
    host = builder.CreateString(identity.host)
    language = builder.CreateString(identity.language)
    version = builder.CreateString(identity.library_version)
    _identity.Start(builder)
    _identity.AddService(builder, service)
    _identity.AddHost(builder, host)
    _identity.AddPid(builder, identity.pid & 0xFFFF_FFFF)
    _identity.AddInstanceId(
        builder,
        _instance_id.CreateInstanceId(builder, identity.instance_hi, identity.instance_lo))
    _identity.AddLanguage(builder, language)
    _identity.AddLibraryVersion(builder, version)
    return _identity.End(builder)


def encode_hello(identity: ProducerIdentity) -> bytes:
    """A HELLO body: the producer identity, built with the generated builder (once per
    connection attempt, so its cost does not matter)."""
    builder = flatbuffers.Builder(256)
    producer = _build_identity(builder, identity)
    _hello.Start(builder)
    _hello.AddProducer(builder, producer)
    builder.Finish(_hello.End(builder))
    return bytes(builder.Output())


def encode_identity(identity: ProducerIdentity) -> bytes:
    """A ProducerIdentity FlatBuffer of its own, as a spool file keeps it."""
    builder = flatbuffers.Builder(256)
    builder.Finish(_build_identity(builder, identity))
    return bytes(builder.Output())


def decode_identity(buf: bytes) -> ProducerIdentity:
    """The identity a spool file keeps (a ProducerIdentity FlatBuffer)."""
    try:
        if len(buf) < 8:
            raise MalformedMessage(f"{len(buf)} bytes")
        identity = identity_from_reader(_identity.ProducerIdentity.GetRootAs(buf, 0))
    except MalformedMessage:
        raise
    except Exception as error:  # noqa: BLE001 - hostile bytes fail in many ways
        raise MalformedMessage(f"not a ProducerIdentity: {error}") from error
    if not identity.service:
        raise MalformedMessage("a ProducerIdentity without a service")
    return identity


def identity_from_reader(reader) -> ProducerIdentity:
    """A ProducerIdentity from a generated ProducerIdentity reader."""
    instance = reader.InstanceId()
    hi = instance.Hi() if instance is not None else 0
    lo = instance.Lo() if instance is not None else 0
    return ProducerIdentity(
        service=_text(reader.Service()),
        host=_text(reader.Host()),
        pid=reader.Pid(),
        instance_id=(hi << 64) | lo,
        language=_text(reader.Language()),
        library_version=_text(reader.LibraryVersion()),
    )


def decode_hello(body: bytes) -> ProducerIdentity:
    """The identity a HELLO body carries."""
    try:
        hello = _hello.Hello.GetRootAs(body, 0)
        producer = hello.Producer()
        if producer is None:
            raise MalformedMessage("HELLO without a producer identity")
        return identity_from_reader(producer)
    except MalformedMessage:
        raise
    except Exception as error:  # noqa: BLE001 - hostile bytes fail in many ways
        raise MalformedMessage(f"not a Hello: {error}") from error


def decode_welcome(body: bytes) -> Welcome:
    """A WELCOME body."""
    try:
        welcome = _welcome.Welcome.GetRootAs(body, 0)
        return Welcome(
            next_sequence=welcome.NextSequence(),
            heartbeat_interval_ms=welcome.HeartbeatIntervalMs(),
            max_message_bytes=welcome.MaxMessageBytes(),
            broker_version=_text(welcome.BrokerVersion()),
        )
    except Exception as error:  # noqa: BLE001
        raise MalformedMessage(f"not a Welcome: {error}") from error


def decode_ack(body: bytes) -> int:
    """An ACK or PONG body: the first sequence the broker has not stored."""
    try:
        return _ack.Ack.GetRootAs(body, 0).NextSequence()
    except Exception as error:  # noqa: BLE001
        raise MalformedMessage(f"not an Ack: {error}") from error


def decode_refusal(body: bytes) -> Refusal:
    """An ERROR body."""
    try:
        refusal = _refusal.Refusal.GetRootAs(body, 0)
        return Refusal(code=_text(refusal.Code()), message=_text(refusal.Message()))
    except Exception as error:  # noqa: BLE001
        raise MalformedMessage(f"not a Refusal: {error}") from error


def encode_welcome(next_sequence: int, heartbeat_interval_ms: int = 1000,
                   max_message_bytes: int = 32 * 1024 * 1024,
                   broker_version: str = "") -> bytes:
    """A WELCOME body, as a broker sends it (for tests and tools that stand in for one)."""
    builder = flatbuffers.Builder(64)
    version = builder.CreateString(broker_version)
    _welcome.Start(builder)
    _welcome.AddNextSequence(builder, next_sequence)
    _welcome.AddHeartbeatIntervalMs(builder, heartbeat_interval_ms)
    _welcome.AddMaxMessageBytes(builder, max_message_bytes)
    _welcome.AddBrokerVersion(builder, version)
    builder.Finish(_welcome.End(builder))
    return bytes(builder.Output())


def encode_ack(next_sequence: int) -> bytes:
    """An ACK or PONG body, as a broker sends it."""
    builder = flatbuffers.Builder(32)
    _ack.Start(builder)
    _ack.AddNextSequence(builder, next_sequence)
    builder.Finish(_ack.End(builder))
    return bytes(builder.Output())


def encode_refusal(code: str, message: str) -> bytes:
    """An ERROR body, as a broker sends it."""
    builder = flatbuffers.Builder(64)
    code_at = builder.CreateString(code)
    message_at = builder.CreateString(message)
    _refusal.Start(builder)
    _refusal.AddCode(builder, code_at)
    _refusal.AddMessage(builder, message_at)
    builder.Finish(_refusal.End(builder))
    return bytes(builder.Output())
