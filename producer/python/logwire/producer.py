"""logwire.Producer: a Python backend's log records, streamed to the broker over ZeroMQ.

A log call encodes the record and appends it to a bounded in-memory queue; it never
waits for the broker and never raises. A daemon thread per producer instance owns the
DEALER socket (pyzmq sockets are not thread-safe) and runs the protocol of
producer/include/logwire/remote_protocol.h, keeping every record until the broker
acknowledges it and replaying it after a reconnect. With a spool directory the queue is
also written to disk, so what the broker has not acknowledged survives a restart of the
backend.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import socket as _socket
import threading
import time
import weakref
from typing import Any, Dict, List, Optional

import zmq

from . import protocol
from ._version import __version__
from .context import _current
from .levels import Level, LevelLike, coerce
from .messages import MalformedMessage, decode_identity, encode_hello, encode_identity
from .record_encoding import Fields, ProducerIdentity, encode_record
from .record_queue import RecordQueue
from .session import Session
from .spool import SpoolFile, claim_orphans, file_name

_log = logging.getLogger("logwire")
_time_ns = time.time_ns

ENDPOINT_ENVIRONMENT = "LOGWIRE_ENDPOINT"


def _cap_utf8(text: str, limit: int = protocol.MAX_IDENTITY_TEXT_BYTES) -> str:
    """Text cut to `limit` UTF-8 bytes on a character boundary: the broker refuses an
    identity text longer than 256 bytes."""
    data = text.encode("utf-8", "replace")
    return data[:limit].decode("utf-8", "ignore") if len(data) > limit else text


class Producer:
    """Streams log records of one producer instance to the logwire broker.

    Thread-safety: log(), flush(), dropped and status() may be called from any number
    of threads at once; close() from any thread, any number of times.
    """

    def __init__(self, service: str, endpoint: Optional[str] = None,
                 queue_bytes: int = protocol.DEFAULT_QUEUE_BYTES,
                 spool_dir: Optional[str] = None,
                 reconnect_max: float = protocol.DEFAULT_RECONNECT_MAX_S,
                 flush_timeout: float = 2.0) -> None:
        """Starts the producer's thread; the broker need not be running.

        service: the name the agent filters by (1 to 256 UTF-8 bytes).
        endpoint: the broker's producer socket; default $LOGWIRE_ENDPOINT, else
            tcp://127.0.0.1:7717.
        queue_bytes: bound on encoded records kept until acknowledged; past it the
            oldest are dropped and counted.
        spool_dir: keep the queue on disk too, and replay what producers that died
            left there (see logwire.spool).
        reconnect_max: longest wait between two connection attempts, in seconds.
        flush_timeout: how long close() (and the exit hook) waits for acknowledgements.
        Raises ValueError for a bad service name or bound, OSError when the spool
        directory cannot be used.
        """
        if not isinstance(service, str) or not service:
            raise ValueError("service must be a non-empty string")
        if len(service.encode("utf-8", "replace")) > protocol.MAX_IDENTITY_TEXT_BYTES:
            raise ValueError(f"service must be at most {protocol.MAX_IDENTITY_TEXT_BYTES} "
                             "bytes of UTF-8")
        if queue_bytes <= 0:
            raise ValueError("queue_bytes must be positive")
        self._service = service
        self.endpoint = endpoint or os.environ.get(ENDPOINT_ENVIRONMENT) or \
            protocol.DEFAULT_ENDPOINT
        self._queue_bytes = int(queue_bytes)
        self._spool_dir = spool_dir
        self._reconnect_max = float(reconnect_max)
        self._flush_timeout = float(flush_timeout)
        self._close_lock = threading.Lock()
        self._closed = False
        self._delivered = True
        self._close_done = threading.Event()  # set once the first close() has finished
        self._new_instance()
        self._start(spool_required=True)
        atexit.register(self._at_exit)
        _live_producers.add(self)

    def _new_instance(self) -> None:
        """A new instance: its identity and its (empty) queue; nothing started yet.
        Cheap and thread-free, so that it can run in the at-fork hook."""
        self.identity = ProducerIdentity(
            service=self._service, host=_cap_utf8(_socket.gethostname()), pid=os.getpid(),
            instance_id=secrets.randbits(128), language="python",
            library_version=__version__)
        self._queue = RecordQueue(self._queue_bytes)
        self._start_lock = threading.Lock()
        self._started = False
        self._session: Optional[Session] = None
        self._sessions: List[Session] = []
        self._threads: List[threading.Thread] = []
        self._context: Optional[zmq.Context] = None
        self.spool_path: Optional[str] = None

    def _start(self, spool_required: bool) -> None:
        """Starts the instance: ZeroMQ context, spool file, sessions (its own and one per
        orphan spool) and their threads. Records already queued are sent (and spooled)
        like any other. Without spool_required a spool directory that cannot be used is
        given up with a warning, and records are kept in memory only."""
        context = zmq.Context(io_threads=1)
        try:
            spool = None
            orphans: List[Session] = []
            if self._spool_dir:
                try:
                    spool = SpoolFile.create(
                        self._spool_dir, file_name(self._service, self.identity.instance_hex),
                        encode_identity(self.identity))
                    orphans = self._replay_sessions(context, spool.path)
                except OSError as error:
                    if spool_required:
                        raise
                    _log.warning("logwire: %s cannot spool to %s (%s); records are kept "
                                 "in memory only", self._service, self._spool_dir, error)
                    if spool is not None:
                        spool.close(delete=True)
                        spool = None
            session = Session(context, self.endpoint, encode_hello(self.identity),
                              self._queue, reconnect_max=self._reconnect_max, spool=spool,
                              spool_limit=self._queue_bytes, name=self._service)
        except BaseException:
            context.term()
            raise
        self._context = context
        self.spool_path = spool.path if spool is not None else None
        self._session = session
        self._sessions = [session] + orphans
        self._threads = []
        for session in self._sessions:
            thread = threading.Thread(target=session.run, daemon=True,
                                      name=f"logwire-producer {session._name}")
            thread.start()
            self._threads.append(thread)
        self._started = True  # last: log() reads self._session once it sees this

    def _start_lazily(self, blocking: bool) -> bool:
        """Starts an instance made by the at-fork hook, on its first use. Without
        `blocking`, returns at once when another thread is starting it (its session will
        find what was queued meanwhile). False when the start failed: the producer is
        then closed and what it held is counted as dropped."""
        if self._started:
            return True
        if not self._start_lock.acquire(blocking):
            return True
        try:
            if self._started:
                return True
            try:
                self._start(spool_required=False)
                return True
            except Exception:  # noqa: BLE001 - logging must not fail the caller
                _log.exception("logwire: cannot start the producer of %s after fork",
                               self._service)
                self._delivered = False
                self._closed = True
                self._queue.close()
                self._queue.discard()
                self._close_done.set()  # a later close() has nothing to wait for
                return False
        finally:
            self._start_lock.release()

    def _replay_sessions(self, context: zmq.Context, own_path: str) -> List[Session]:
        """A session for each spool file of a producer that is gone."""
        sessions = []
        for spool, contents in claim_orphans(self._spool_dir, own_path):
            try:
                identity = decode_identity(contents.identity)
            except MalformedMessage as error:
                _log.warning("logwire: leaving %s alone: no usable identity (%s)",
                             spool.path, error)
                spool.close(delete=False)
                continue
            if not contents.records and not contents.dropped:
                spool.close(delete=True)
                continue
            _log.info("logwire: replaying %d records of %s (instance %s) from %s",
                      len(contents.records), identity.service, identity.instance_hex,
                      spool.path)
            # Bounded like this producer's own queue: the oldest beyond it are evicted,
            # and the broker counts the gap they leave.
            queue = RecordQueue(self._queue_bytes, refused=contents.dropped,
                                last_refusal_ns=contents.last_drop_ns,
                                acknowledged=contents.acknowledged,
                                entries=contents.records)
            sessions.append(Session(
                context, self.endpoint, encode_hello(identity), queue,
                reconnect_max=self._reconnect_max, spool=spool,
                spooled_below=queue.next_sequence, finish_when_acknowledged=True,
                name=f"{identity.service} (spooled instance {identity.instance_hex})"))
        return sessions

    # --- the log call ----------------------------------------------------------------------

    def log(self, level: LevelLike, message: Any, *, request_id: Optional[str] = None,
            traceparent: Optional[str] = None, span_id: Optional[str] = None,
            fields: Optional[Fields] = None, stack_trace: Optional[str] = None,
            timestamp_ns: Optional[int] = None) -> bool:
        """Queues one record for the broker; never blocks on it, never raises.

        level: a Level, a name ("ERROR", "warning"), an int 0-5 (a Level) or a larger
            int (a Python logging level).
        IDs left None come from the enclosing request_context(). Field values keep
            their type when it is str, bool, int (within int64) or float; anything else
            is sent as str(value).
        Returns False when the record was not queued (the producer is closed, or the
        record could not be encoded or is larger than the queue or 16 MiB); a refusal
        is counted in `dropped`, as is a record the full queue evicts.
        """
        if self._closed:
            self._queue.count_refused()
            return False
        try:
            if request_id is None or traceparent is None or span_id is None:
                context = _current.get()
                if context is not None:
                    if request_id is None:
                        request_id = context.request_id
                    if traceparent is None:
                        traceparent = context.traceparent
                    if span_id is None:
                        span_id = context.span_id
            record = encode_record(
                message,
                timestamp_ns=_time_ns() if timestamp_ns is None else timestamp_ns,
                level=level if level.__class__ is Level else coerce(level),
                request_id=request_id, traceparent=traceparent, span_id=span_id,
                fields=fields, stack_trace=stack_trace)
            if len(record) > protocol.MAX_RECORD_BYTES:
                self._queue.count_refused()
                return False
            accepted, wake = self._queue.append(record)
            if not self._started:
                # A forked child's first record: start the instance now. The record is
                # queued already, and sent once the session runs.
                if accepted and not self._start_lazily(blocking=False):
                    return False
            elif wake:
                self._session.wake()
            return accepted
        except Exception:  # noqa: BLE001 - a log call never raises into the caller
            try:
                self._queue.count_refused()
            except Exception:  # noqa: BLE001
                pass
            return False

    # --- delivery ------------------------------------------------------------------------

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Waits until every record logged before the call is acknowledged by the broker
        (or dropped, which `dropped` counts); False on timeout. timeout None: the
        producer's flush_timeout. After close() there is nothing more to wait for: it
        answers at once whether everything was delivered (logging.shutdown() flushes
        handlers after the exit hook has closed their producer)."""
        if self._closed:
            return self._queue.empty()
        target = self._queue.next_sequence
        if not self._started:
            if self._queue.empty():
                return True  # a forked child that has logged nothing
            if not self._start_lazily(blocking=True):
                return False
        self._session.wake()
        return self._queue.wait_acknowledged(
            target, self._flush_timeout if timeout is None else timeout)

    @property
    def dropped(self) -> int:
        """Records this instance has lost so far: evicted from the full queue (the
        broker counts those it never received), or refused (the record could not be
        encoded or was too large)."""
        return self._queue.refused[0] + self._queue.evicted

    def status(self) -> Dict[str, Any]:
        """What the producer is doing, for a person or a test."""
        session = self._session if self._started else None
        return {
            # "not started": a forked child that has not logged yet.
            "state": session.state if session is not None else "not started",
            "endpoint": self.endpoint,
            "service": self._service,
            "instance": self.identity.instance_hex,
            "sessions_started": session.sessions_started if session is not None else 0,
            "queued_bytes": self._queue.queued_bytes,
            "next_sequence": self._queue.next_sequence,
            "dropped": self.dropped,
            "evicted": self._queue.evicted,
            "refused": self._queue.refused[0],
            "acknowledged": self._queue.acknowledged,
            "spool": self.spool_path,
            "replaying": sum(1 for s in list(self._sessions)[1:] if not s.finished.is_set()),
        }

    def close(self, timeout: Optional[float] = None) -> bool:
        """Delivers what is queued (waiting up to `timeout`, default flush_timeout), says
        BYE and stops. True when everything logged reached the broker; otherwise what
        is left is lost (with a warning) or, with a spool, replayed by the next
        producer that opens the spool directory. Records logged once close() has begun
        are refused and counted in `dropped`. A second close() waits for the first and
        returns its outcome."""
        with self._close_lock:
            first = not self._closed
            self._closed = True
            done = self._close_done
        if not first:
            done.wait()
            return self._delivered
        try:
            return self._close(timeout)
        finally:
            done.set()

    def _close(self, timeout: Optional[float]) -> bool:
        atexit.unregister(self._at_exit)
        wait = self._flush_timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        # From here a log call is refused and counted: a record queued now could be left
        # behind once the session has finished.
        self._queue.close()
        if not self._started:
            # A forked child that never started: only records a log call queued just
            # before close() began need a session; without any, there is nothing to do.
            if self._queue.empty():
                self._delivered = True
                return True
            if not self._start_lazily(blocking=True):
                return False
        for session in self._sessions:
            session.request_close(deadline)
        finished = True
        for session in self._sessions:
            # Past the deadline a session still says BYE and waits a moment for it.
            if not session.finished.wait(max(0.0, deadline - time.monotonic()) + 2.0):
                finished = False
        self._delivered = self._queue.empty()
        if finished and self._context is not None:
            self._context.term()
        if not self._delivered:
            where = (f"kept in {self.spool_path} for the next producer"
                     if self.spool_path else "lost")
            _log.warning("logwire: %s closed with %d bytes of records the broker at %s "
                         "did not acknowledge: %s", self._service, self._queue.queued_bytes,
                         self.endpoint, where)
        return self._delivered

    def _at_exit(self) -> None:
        self.close()

    def __enter__(self) -> "Producer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- fork ----------------------------------------------------------------------------

    def _restart_after_fork(self) -> None:
        """In a forked child: the parent's threads, sockets and spool stay the parent's;
        the child is a new process, so a new instance with an empty queue. Nothing is
        started here (a child that execs at once needs no threads, socket or spool
        file): the child's first log() starts it, and keeps what it queued."""
        self._close_lock = threading.Lock()
        if self._closed:
            # A close() another thread of the parent was running is not the child's.
            done = threading.Event()
            done.set()
            self._close_done = done
            return
        self._close_done = threading.Event()
        for session in self._sessions:
            session.abandon_after_fork()
        self._new_instance()


_live_producers: "weakref.WeakSet[Producer]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for producer in list(_live_producers):
        try:
            producer._restart_after_fork()
        except Exception:  # noqa: BLE001 - a fork must not fail over logging
            _log.exception("logwire: cannot restart the producer after fork")
            producer._closed = True
            done = threading.Event()
            done.set()
            producer._close_done = done  # close() has nothing to wait for


os.register_at_fork(after_in_child=_after_fork_in_child)
