"""One producer instance's conversation with the broker: the producer state machine of
producer/include/logwire/remote_protocol.h.

    CONNECTING --WELCOME--> STREAMING --BYE--> CLOSED
         ^                      |
         +---- session lost ----+   (3 s without a message from the broker, or
                                     ERROR no_session)

CONNECTING opens a fresh DEALER socket and says HELLO; without a WELCOME within the
attempt's time (1 s, doubling up to reconnect_max) the socket is closed, nothing
lingering, and a new one tries again. STREAMING sends every unacknowledged record from
WELCOME.next_sequence on, in DATA envelopes, at most 8 MiB unacknowledged, and PINGs
after a second of silence.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from typing import Callable, List, Optional

import zmq

from . import protocol
from .messages import MalformedMessage, Welcome, decode_ack, decode_refusal, decode_welcome
from .protocol import Command, RefusalCode
from .record_encoding import encode_envelope
from .record_queue import RecordQueue
from .spool import SpoolFile

_log = logging.getLogger("logwire")

CONNECTING = "connecting"
STREAMING = "streaming"
CLOSED = "closed"

# How often new records reach the spool file while they cannot be sent.
_SPOOL_INTERVAL_S = 0.02
# How long a session waits for the broker's answer to BYE: at most a second, and at
# least a moment even past the close deadline, so that BYE leaves before the socket
# closes.
_BYE_WAIT_S = 1.0
_BYE_MIN_WAIT_S = 0.1
# Bytes an envelope adds to its records (header, vector, per-record table): the batch
# limit leaves this much room under the broker's max_message_bytes.
_ENVELOPE_OVERHEAD = 1024
_MAX_REPLY_BYTES = 1024 * 1024


class Session:
    """Runs the protocol for one producer instance over its own DEALER socket.

    Thread-safety: run() is the body of the session's own thread, the only thread that
    touches the socket and the spool file; wake() and request_close() may be called
    from any thread.
    """

    def __init__(self, context: zmq.Context, endpoint: str, hello: bytes,
                 queue: RecordQueue, *, reconnect_max: float,
                 spool: Optional[SpoolFile] = None, spool_limit: int = 0,
                 spooled_below: int = 0, finish_when_acknowledged: bool = False,
                 name: str = "") -> None:
        """spooled_below: the queue's records below this sequence are in the spool file
        already (a replayed spool's); the others are written to it."""
        self._context = context
        self._endpoint = endpoint
        self._hello = hello
        self._queue = queue
        self._reconnect_max = max(reconnect_max, protocol.RECONNECT_MIN_S)
        self._spool = spool
        self._spool_limit = spool_limit
        self._spooled = spooled_below  # every queued record below it is in the spool
        self._finish_when_acknowledged = finish_when_acknowledged
        self._name = name
        self._close_deadline: Optional[float] = None
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        # The pipe lives as long as this object, so a log call racing with close() can
        # never write into a descriptor number that was closed and reused.
        weakref.finalize(self, _close_fds, self._wake_read, self._wake_write)
        self._reported_refused = 0
        self._warned: set = set()
        self.state = CONNECTING
        self.sessions_started = 0  # WELCOMEs received, for tests and status()
        self.finished = threading.Event()

    # --- any thread --------------------------------------------------------------------

    def wake(self) -> None:
        """Makes the session thread look at its queue now."""
        try:
            os.write(self._wake_write, b"\0")
        except OSError:
            pass  # the pipe is full: a wake-up is pending anyway

    def request_close(self, deadline: float) -> None:
        """Asks the session to deliver what it holds until `deadline` (time.monotonic),
        then say BYE and end."""
        self._close_deadline = deadline
        self.wake()

    # --- the session thread --------------------------------------------------------------

    def run(self) -> None:
        """The session thread's body: never raises, and ends only when asked to."""
        try:
            while True:
                try:
                    self._run()
                    return
                except Exception:  # noqa: BLE001 - a bug must not end the delivery
                    _log.exception("logwire: producer session %s failed; restarting it",
                                   self._name)
                    if self._closing_done(time.monotonic()):
                        return
                    time.sleep(0.5)
        finally:
            self.state = CLOSED
            self._close_spool()
            self.finished.set()

    def _run(self) -> None:
        attempt = min(protocol.FIRST_ATTEMPT_TIMEOUT_S, self._reconnect_max)
        while not self._closing_done(time.monotonic()):
            socket = self._new_socket()
            try:
                self.state = CONNECTING
                welcome = self._say_hello(socket, attempt)
                if welcome is None:
                    attempt = min(attempt * 2, self._reconnect_max)
                    continue
                attempt = min(protocol.FIRST_ATTEMPT_TIMEOUT_S, self._reconnect_max)
                self.state = STREAMING
                self.sessions_started += 1
                if self._stream(socket, welcome):
                    return
            finally:
                socket.close(linger=0)

    def _new_socket(self) -> zmq.Socket:
        socket = self._context.socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.RECONNECT_IVL, int(protocol.RECONNECT_MIN_S * 1000))
        socket.setsockopt(zmq.RECONNECT_IVL_MAX, int(self._reconnect_max * 1000))
        socket.setsockopt(zmq.MAXMSGSIZE, _MAX_REPLY_BYTES)
        socket.connect(self._endpoint)
        return socket

    def _has_work(self) -> bool:
        return not self._queue.empty() or self._queue.refused[0] > self._reported_refused

    def _closing_done(self, now: float) -> bool:
        """Closing, and nothing left to deliver or no time left to deliver it."""
        deadline = self._close_deadline
        return deadline is not None and (now >= deadline or not self._has_work())

    def _say_hello(self, socket: zmq.Socket, timeout: float) -> Optional[Welcome]:
        """CONNECTING: HELLO, then the WELCOME; None when the attempt times out."""
        self._send(socket, Command.HELLO, self._hello)  # queued until TCP connects
        deadline = time.monotonic() + timeout
        poller = self._poller(socket)
        while True:
            self._spool_new()
            now = time.monotonic()
            if now >= deadline or self._closing_done(now):
                return None
            wait = min(deadline, self._close_deadline or deadline) - now
            if self._spool is not None and self._queue.next_sequence > self._spooled:
                wait = min(wait, _SPOOL_INTERVAL_S)
            ready = dict(poller.poll(max(1, int(wait * 1000))))
            if self._wake_read in ready:
                self._drain_wakes()
            if socket not in ready:
                continue
            for command, body in self._receive_all(socket):
                if command == Command.WELCOME:
                    try:
                        welcome = decode_welcome(body)
                    except MalformedMessage as error:
                        self._warn_once("welcome", "logwire: a malformed WELCOME: %s", error)
                        continue
                    _log.info("logwire: %s streaming to %s from sequence %d", self._name,
                              self._endpoint, welcome.next_sequence)
                    return welcome
                if command == Command.ERROR:
                    # HELLO refused (unsupported version, bad identity): waiting out the
                    # attempt keeps a hopeless retry from spinning.
                    self._note_refusal(body)

    def _stream(self, socket: zmq.Socket, welcome: Welcome) -> bool:
        """STREAMING; True when the session closed, False when it was lost."""
        queue = self._queue
        queue.restart(welcome.next_sequence)
        self._reported_refused = 0
        heartbeat = (welcome.heartbeat_interval_ms / 1000.0
                     if welcome.heartbeat_interval_ms else protocol.HEARTBEAT_INTERVAL_S)
        max_message = welcome.max_message_bytes or protocol.MAX_MESSAGE_BYTES
        batch_bytes = max(1, min(protocol.BATCH_BYTES, max_message - _ENVELOPE_OVERHEAD))
        poller = self._poller(socket)
        last_heard = last_sent = time.monotonic()
        while True:
            self._spool_new()
            blocked = False
            sent = self._send_batches(socket, batch_bytes, max_message)
            if sent is None:
                blocked = True
            elif sent:
                last_sent = time.monotonic()
            now = time.monotonic()
            if self._close_deadline is not None and self._closing_done(now):
                self._say_bye(socket)
                return True
            if self._finish_when_acknowledged and not self._has_work():
                self._say_bye(socket)
                return True
            if now - last_heard >= protocol.PEER_TIMEOUT_S:
                _log.info("logwire: %s heard nothing from the broker for %.0f s; "
                          "reconnecting", self._name, protocol.PEER_TIMEOUT_S)
                return False
            if now - last_sent >= heartbeat:
                self._send(socket, Command.PING, b"")
                last_sent = now
            wait = min(last_sent + heartbeat, last_heard + protocol.PEER_TIMEOUT_S) - now
            if self._close_deadline is not None:
                wait = min(wait, self._close_deadline - now)
            if blocked:
                wait = min(wait, 0.01)
            if self._spool is not None and queue.next_sequence > self._spooled:
                wait = min(wait, _SPOOL_INTERVAL_S)
            if queue.arm_wakeup(protocol.MAX_IN_FLIGHT_BYTES):
                timeout_ms = max(1, int(wait * 1000) + 1)
            else:
                # A record was queued after the last batch, before the wake-up was armed:
                # nobody will wake us for it, so do not sleep (while ZeroMQ would block,
                # the short wait above stands).
                timeout_ms = max(1, int(wait * 1000) + 1) if blocked else 0
            ready = dict(poller.poll(timeout_ms))
            if self._wake_read in ready:
                self._drain_wakes()
            if socket not in ready:
                continue
            for command, body in self._receive_all(socket):
                last_heard = time.monotonic()
                if command in (Command.ACK, Command.PONG):
                    self._acknowledge(body)
                elif command == Command.ERROR:
                    if self._note_refusal(body) == RefusalCode.NO_SESSION:
                        return False

    def _send_batches(self, socket: zmq.Socket, batch_bytes: int,
                      max_message: int) -> Optional[bool]:
        """Sends envelopes while the in-flight window allows; True if any was sent, None
        if ZeroMQ would have blocked."""
        queue = self._queue
        sent = False
        while True:
            first, records = queue.next_batch(protocol.BATCH_RECORDS, batch_bytes,
                                              protocol.MAX_IN_FLIGHT_BYTES)
            refused, last_refusal_ns = queue.refused
            if not records:
                if refused > self._reported_refused:
                    # Refusals with nothing after them to carry the count: an empty
                    # envelope.
                    records, first = [], queue.next_sequence
                else:
                    return sent
            body = encode_envelope(first, records, dropped=refused,
                                   last_drop_ns=last_refusal_ns,
                                   acknowledged=queue.acknowledged)
            if len(body) > max_message and len(records) == 1:
                # Larger than this broker takes: its sequence becomes a gap, which the
                # broker counts as a record lost.
                queue.evict_first(first)
                continue
            if not self._send(socket, Command.DATA, body):
                return None
            queue.mark_sent(first + len(records))
            self._reported_refused = refused
            sent = True
            if not records:
                return sent

    def _acknowledge(self, body: bytes) -> None:
        try:
            next_sequence = decode_ack(body)
        except MalformedMessage as error:
            self._warn_once("ack", "logwire: a malformed ACK: %s", error)
            return
        self._queue.acknowledge(next_sequence)
        if self._spool is not None and self._queue.empty():
            self._spool_call(self._spool.truncate)

    def _say_bye(self, socket: zmq.Socket) -> None:
        """BYE, and a moment for the broker's answer so that BYE leaves before the socket
        closes (it lingers for nothing)."""
        if not self._send(socket, Command.BYE, b""):
            return
        now = time.monotonic()
        deadline = now + _BYE_WAIT_S
        if self._close_deadline is not None:
            deadline = min(deadline, max(self._close_deadline, now + _BYE_MIN_WAIT_S))
        while True:
            wait = deadline - time.monotonic()
            if wait <= 0 or not socket.poll(max(1, int(wait * 1000)), zmq.POLLIN):
                return
            for command, body in self._receive_all(socket):
                if command in (Command.ACK, Command.PONG):
                    self._acknowledge(body)
                return

    # --- helpers -------------------------------------------------------------------------

    def _poller(self, socket: zmq.Socket) -> zmq.Poller:
        poller = zmq.Poller()
        poller.register(socket, zmq.POLLIN)
        poller.register(self._wake_read, zmq.POLLIN)
        return poller

    def _send(self, socket: zmq.Socket, command: bytes, body: bytes) -> bool:
        try:
            socket.send_multipart([protocol.PROTOCOL, command, body], flags=zmq.NOBLOCK)
            return True
        except zmq.Again:
            return False

    def _receive_all(self, socket: zmq.Socket) -> List[tuple]:
        """Every waiting message as (command, body); malformed ones are skipped."""
        out = []
        while True:
            try:
                frames = socket.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                return out
            if len(frames) != 3 or frames[0] != protocol.PROTOCOL:
                self._warn_once("frames", "logwire: a message from the broker that is not "
                                "%s with 3 frames; ignored", protocol.PROTOCOL.decode())
                continue
            out.append((frames[1], frames[2]))

    def _drain_wakes(self) -> None:
        try:
            while os.read(self._wake_read, 4096):
                pass
        except OSError:
            pass

    def _note_refusal(self, body: bytes) -> str:
        try:
            refusal = decode_refusal(body)
        except MalformedMessage:
            return ""
        if refusal.code != RefusalCode.NO_SESSION:
            self._warn_once("refusal:" + refusal.code, "logwire: the broker refused a "
                            "message from %s: %s: %s", self._name, refusal.code,
                            refusal.message)
        return refusal.code

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            _log.warning(message, *args)

    # --- spool ---------------------------------------------------------------------------

    def _spool_new(self) -> None:
        """Writes newly queued records and the drop count to the spool file."""
        spool = self._spool
        if spool is None:
            return
        queue = self._queue
        next_sequence = queue.next_sequence
        if next_sequence > self._spooled:
            entries = queue.snapshot(self._spooled)
            if entries:
                if not self._spool_call(spool.append, entries):
                    return
                self._spooled = entries[-1][0] + 1
            else:
                self._spooled = next_sequence
        progress = (*queue.refused, queue.acknowledged)
        if progress != spool.progress:
            self._spool_call(spool.write_progress, *progress)
        if self._spool is not None and spool.frame_bytes > 2 * self._spool_limit > 0:
            # References taken briefly under the queue's lock; the file written outside it.
            entries = queue.snapshot(0)
            if self._spool_call(spool.rewrite, entries) and entries:
                # Records queued since the append above are in the new file already.
                self._spooled = max(self._spooled, entries[-1][0] + 1)

    def _spool_call(self, method: Callable, *args: object) -> bool:
        """Runs a spool operation; on an I/O error the spool is given up (with a
        warning), and records are still delivered from memory."""
        try:
            method(*args)
            return True
        except OSError as error:
            _log.warning("logwire: spool file %s failed (%s); records are no longer "
                         "spooled", self._spool.path if self._spool else "?", error)
            spool, self._spool = self._spool, None
            if spool is not None:
                try:
                    spool.close(delete=False)
                except OSError:
                    pass
            return False

    def _close_spool(self) -> None:
        spool, self._spool = self._spool, None
        if spool is None:
            return
        try:
            self._spool_new_into(spool)
            spool.close(delete=self._queue.empty())
        except OSError as error:
            _log.warning("logwire: spool file %s: %s", spool.path, error)

    def _spool_new_into(self, spool: SpoolFile) -> None:
        entries = self._queue.snapshot(self._spooled)
        if entries:
            spool.append(entries)
            self._spooled = entries[-1][0] + 1
        progress = (*self._queue.refused, self._queue.acknowledged)
        if progress != spool.progress:
            spool.write_progress(*progress)

    def abandon_after_fork(self) -> None:
        """In a forked child: the parent still owns this session's spool and lock."""
        spool, self._spool = self._spool, None
        if spool is not None:
            spool.abandon()


def _close_fds(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
