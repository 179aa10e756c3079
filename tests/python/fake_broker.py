"""A fake broker for protocol tests: a ROUTER socket in a thread that answers like the
real one (producer/include/logwire/remote_protocol.h) and can be told to misbehave.

HELLO opens a session and is answered WELCOME with the first sequence not stored for
the instance; DATA in a session stores every record at or above the session's next
sequence and is answered ACK, and counts the sequences it skips above both the
session's next sequence and the envelope's `acknowledged` as lost, as the broker does;
DATA or PING without a session is answered ERROR no_session; PING is answered PONG; BYE
ends the session and is answered ACK.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import zmq

from logwire.messages import (decode_hello, encode_ack, encode_refusal, encode_welcome)
from logwire.protocol import PROTOCOL, Command
from logwire.wire_json import envelope_acknowledged, envelope_to_dict


@dataclass
class Event:
    """One message the fake broker received."""

    command: str
    peer: bytes
    at: float
    instance: int = 0
    envelope: Optional[dict] = None  # DATA, decoded
    acknowledged: int = 0  # DATA


@dataclass
class _Session:
    instance: int
    next_sequence: int


@dataclass
class FakeBroker:
    """The fake broker; thread-safety: start/stop/the controls and the readers below may
    be called from the test's thread, the socket belongs to the broker's thread."""

    port: int = 0
    heartbeat_interval_ms: int = 1000
    events: List[Event] = field(default_factory=list)
    # instance -> sequence -> decoded record
    stored: Dict[int, Dict[int, dict]] = field(default_factory=dict)
    duplicates: int = 0
    lost: Dict[int, int] = field(default_factory=dict)  # instance -> records never stored
    # Misbehaviours, set from the test.
    mute: bool = False              # receive, answer nothing, store nothing
    withhold_acks: bool = False     # store DATA but answer nothing
    welcome_from: Optional[int] = None  # WELCOME names this next_sequence instead

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sessions: Dict[bytes, _Session] = {}
        self._thread: Optional[threading.Thread] = None
        self._context = zmq.Context(io_threads=1)
        self._socket = self._context.socket(zmq.ROUTER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.bind(f"tcp://127.0.0.1:{self.port}")
        self.endpoint = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.port = int(self.endpoint.rsplit(":", 1)[1])

    def start(self) -> None:
        """Starts answering."""
        self._thread = threading.Thread(target=self._serve, daemon=True, name="fake broker")
        self._thread.start()

    def stop(self) -> None:
        """Stops and releases the port."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        else:
            self._socket.close(linger=0)
        self._context.term()

    def forget_sessions(self) -> None:
        """As a restarted broker: the store is kept, every session is gone."""
        with self._lock:
            self._sessions.clear()

    # --- readers -----------------------------------------------------------------------

    def commands(self, name: Optional[str] = None) -> List[Event]:
        """The events so far, all or of one command."""
        with self._lock:
            return [e for e in self.events if name is None or e.command == name]

    def sequences(self, instance: int) -> List[int]:
        """The sequences stored for an instance, in order."""
        with self._lock:
            return sorted(self.stored.get(instance, {}))

    def records(self, instance: int) -> List[dict]:
        """The records stored for an instance, in sequence order."""
        with self._lock:
            found = self.stored.get(instance, {})
            return [found[s] for s in sorted(found)]

    # --- the broker's thread -------------------------------------------------------------

    def _serve(self) -> None:
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                if not poller.poll(20):
                    continue
                while True:
                    try:
                        frames = self._socket.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    reply = self._handle(frames)
                    if reply is not None:
                        try:
                            self._socket.send_multipart([frames[0], PROTOCOL, *reply],
                                                        zmq.NOBLOCK)
                        except zmq.Again:
                            pass
        finally:
            self._socket.close(linger=0)

    def _handle(self, frames: List[bytes]) -> Optional[Tuple[bytes, bytes]]:
        peer, parts = frames[0], frames[1:]
        if len(parts) != 3 or parts[0] != PROTOCOL:
            return Command.ERROR, encode_refusal("malformed", "3 frames, LWP1")
        command, body = parts[1], parts[2]
        with self._lock:
            event = Event(command.decode(), peer, time.monotonic())
            self.events.append(event)
            if command == Command.DATA:
                event.envelope = envelope_to_dict(body)
                event.acknowledged = envelope_acknowledged(body)
            if self.mute:
                return None
            session = self._sessions.get(peer)
            if command == Command.HELLO:
                identity = decode_hello(body)
                stored = self.stored.setdefault(identity.instance_id, {})
                next_sequence = max(stored) + 1 if stored else 0
                if self.welcome_from is not None:
                    next_sequence = self.welcome_from
                self._sessions[peer] = _Session(identity.instance_id, next_sequence)
                event.instance = identity.instance_id
                return Command.WELCOME, encode_welcome(
                    next_sequence, self.heartbeat_interval_ms, 32 * 1024 * 1024, "fake")
            if session is None:
                return Command.ERROR, encode_refusal("no_session", "send HELLO first")
            event.instance = session.instance
            if command == Command.DATA:
                envelope = event.envelope
                stored = self.stored.setdefault(session.instance, {})
                floor = max(session.next_sequence, event.acknowledged)
                if envelope["records"] and envelope["firstSequence"] > floor:
                    self.lost[session.instance] = self.lost.get(session.instance, 0) + \
                        envelope["firstSequence"] - floor
                for i, record in enumerate(envelope["records"]):
                    sequence = envelope["firstSequence"] + i
                    if sequence < session.next_sequence:
                        self.duplicates += 1
                        continue
                    if sequence in stored:
                        self.duplicates += 1  # the store keeps a sequence once
                    else:
                        stored[sequence] = record
                    session.next_sequence = sequence + 1
                if self.withhold_acks:
                    return None
                return Command.ACK, encode_ack(session.next_sequence)
            if command == Command.PING:
                if self.withhold_acks:
                    return None
                return Command.PONG, encode_ack(session.next_sequence)
            if command == Command.BYE:
                del self._sessions[peer]
                return Command.ACK, encode_ack(session.next_sequence)
            return Command.ERROR, encode_refusal("unknown_command", command.decode())
