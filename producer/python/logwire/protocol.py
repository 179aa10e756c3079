"""Constants of the ZeroMQ protocol between a producer and the broker.

The protocol itself (frames, commands, states, failures) is described once, in
producer/include/logwire/remote_protocol.h; these values mirror that header so the
Python producer behaves exactly like the C++ one.
"""

PROTOCOL = b"LWP1"


class Command:
    """Second frame of every message: an ASCII word."""

    HELLO = b"HELLO"
    DATA = b"DATA"
    PING = b"PING"
    BYE = b"BYE"
    WELCOME = b"WELCOME"
    ACK = b"ACK"
    PONG = b"PONG"
    ERROR = b"ERROR"


class RefusalCode:
    """Codes of an ERROR reply (Refusal.code)."""

    UNSUPPORTED_VERSION = "unsupported_version"
    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    UNKNOWN_COMMAND = "unknown_command"
    NO_SESSION = "no_session"
    WRONG_INSTANCE = "wrong_instance"


DEFAULT_PORT = 7717
DEFAULT_ENDPOINT = "tcp://127.0.0.1:7717"

HEARTBEAT_INTERVAL_S = 1.0
PEER_TIMEOUT_S = 3.0
SESSION_TIMEOUT_S = 30.0
RECONNECT_MIN_S = 0.1
DEFAULT_RECONNECT_MAX_S = 30.0
FIRST_ATTEMPT_TIMEOUT_S = 1.0

MAX_MESSAGE_BYTES = 32 * 1024 * 1024
MAX_ENVELOPE_RECORDS = 100_000
BATCH_BYTES = 256 * 1024
BATCH_RECORDS = 4096
MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024
DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024

# What the broker accepts in one record (producer/include/logwire/producer.h).
MAX_RECORD_BYTES = 16 * 1024 * 1024
MAX_RECORD_FIELDS = 10_000
# What the broker accepts in an identity text (broker/src/remote_message.cc).
MAX_IDENTITY_TEXT_BYTES = 256
