"""The records a producer instance has logged and the broker has not acknowledged.

Thread-safety: append() and count_refused() may be called from any thread at any time
(they are the log call's path: a short critical section, no I/O); every other method
belongs to the session thread that sends the records, except close(), discard(),
wait_acknowledged() and the read-only properties, which any thread may use.
"""

from __future__ import annotations

import bisect
import collections
import itertools
import threading
import time
from typing import Deque, Iterable, List, Optional, Tuple

Entry = Tuple[int, bytes]  # (sequence, record buffer)

# snapshot() walks at most this many of the newest records under the lock; a longer tail
# is a copy of every reference (a C loop), searched outside the lock.
_SNAPSHOT_WALK = 256


class RecordQueue:
    """Records in sequence order, bounded in bytes.

    Two ways to lose a record, counted apart because the protocol reports them apart:
    - refused: it never got a sequence (it could not be encoded, or is larger than the
      whole bound); the envelope's `dropped` carries this count, and the broker notes
      every increase;
    - evicted: the queue was full, so its oldest unacknowledged record was dropped; its
      sequence becomes a gap, which the broker counts itself (it alone knows whether the
      record had arrived), using the envelope's `acknowledged`.

    Two runs of records: `unacked` (sent in this session, waiting for an ACK) then
    `pending` (not sent yet). A lost session moves `unacked` back in front of `pending`.
    """

    def __init__(self, limit_bytes: Optional[int] = None, *, refused: int = 0,
                 last_refusal_ns: int = 0, acknowledged: int = 0,
                 entries: Iterable[Entry] = ()) -> None:
        self._lock = threading.Lock()
        self._acknowledged_cv = threading.Condition(self._lock)
        self._limit = limit_bytes  # None: unbounded
        self._unacked: Deque[Entry] = collections.deque()
        self._pending: Deque[Entry] = collections.deque(
            entry for entry in entries if entry[0] >= acknowledged)
        self._bytes = sum(len(record) for _, record in self._pending)
        self._unacked_bytes = 0
        self._next = max(acknowledged, self._pending[-1][0] + 1 if self._pending else 0)
        self._acked = acknowledged
        self._refused = refused
        self._last_refusal_ns = last_refusal_ns
        self._evicted = 0
        self._waiters = 0
        self._wake_armed = False
        self._closed = False
        if self._limit is not None and self._bytes > self._limit:
            self._evict_oldest(self._limit)

    # --- any thread -------------------------------------------------------------------

    def append(self, record: bytes) -> Tuple[bool, bool]:
        """Queues one record under the next sequence, evicting the oldest when over the
        bound. Returns (accepted, wake): wake says the session thread sleeps and should
        be woken. A record larger than the whole bound, or appended once the queue is
        closed, is refused (and counted)."""
        size = len(record)
        with self._lock:
            limit = self._limit
            if self._closed or (limit is not None and size > limit):
                self._count_refusal()
                return False, False
            self._pending.append((self._next, record))
            self._next += 1
            self._bytes += size
            if limit is not None and self._bytes > limit:
                self._evict_oldest(limit)
            wake = self._wake_armed
            self._wake_armed = False
            return True, wake

    def count_refused(self) -> None:
        """Counts a record that never got a sequence (it failed to encode)."""
        with self._lock:
            self._count_refusal()

    def close(self) -> None:
        """From now on append() refuses, and counts, every record: the producer is
        closing, and a record queued now could be left behind unsent and uncounted."""
        with self._lock:
            self._closed = True

    def discard(self) -> None:
        """Drops every queued record, counted as evicted: nothing will send them."""
        with self._lock:
            dropped = len(self._unacked) + len(self._pending)
            self._unacked.clear()
            self._pending.clear()
            self._bytes = self._unacked_bytes = 0
            self._evicted += dropped
            self._notify()

    def wait_acknowledged(self, sequence: int, timeout: Optional[float]) -> bool:
        """Waits until every record below `sequence` is acknowledged or evicted."""
        with self._lock:
            self._waiters += 1
            try:
                return self._acknowledged_cv.wait_for(
                    lambda: not self._any_below(sequence), timeout)
            finally:
                self._waiters -= 1

    @property
    def next_sequence(self) -> int:
        """The sequence the next record will get."""
        return self._next

    @property
    def refused(self) -> Tuple[int, int]:
        """(records refused in all, when the latest was refused, ns since the epoch)."""
        with self._lock:
            return self._refused, self._last_refusal_ns

    @property
    def evicted(self) -> int:
        """Records this queue evicted to stay within its bound."""
        return self._evicted

    @property
    def acknowledged(self) -> int:
        """The highest ACK had: every sequence below it reached a broker."""
        return self._acked

    @property
    def queued_bytes(self) -> int:
        """Bytes of every record not yet acknowledged."""
        return self._bytes

    # --- the session thread ------------------------------------------------------------

    def arm_wakeup(self, in_flight_limit: Optional[int] = None) -> bool:
        """Called by the session thread before it sleeps. When nothing is left to send,
        asks append() to report a wake-up for the next record. Returns True if the
        caller may sleep: nothing unsent, or (given the in-flight limit next_batch()
        uses) the window is full, so an ACK, which wakes the poll, must come first.
        False when a record could be sent now: one was queued since the caller's last
        next_batch(), and sleeping would delay it."""
        with self._lock:
            pending = self._pending
            self._wake_armed = not pending
            if not pending:
                return True
            return (in_flight_limit is not None and bool(self._unacked) and
                    self._unacked_bytes + len(pending[0][1]) > in_flight_limit)

    def empty(self) -> bool:
        """True when no record waits for an acknowledgement."""
        with self._lock:
            return not self._pending and not self._unacked

    def has_unsent(self) -> bool:
        """True when records wait to be sent in this session."""
        return bool(self._pending)

    def restart(self, next_sequence: int) -> None:
        """A new session: everything unacknowledged is sent again, from the broker's
        next_sequence (what is below it is stored already)."""
        with self._lock:
            self._pending.extendleft(reversed(self._unacked))
            self._unacked.clear()
            self._unacked_bytes = 0
            self._acknowledge(next_sequence)

    def next_batch(self, max_records: int, max_bytes: int,
                   in_flight_limit: int) -> Tuple[int, List[bytes]]:
        """The next records to send: consecutive sequences from the oldest unsent, at
        most max_records and max_bytes (one larger record goes alone), while fewer than
        in_flight_limit bytes are unacknowledged. (first sequence, records); empty when
        nothing may be sent."""
        with self._lock:
            if not self._pending:
                return 0, []
            room = in_flight_limit - self._unacked_bytes
            first, record = self._pending[0]
            if room < len(record) and self._unacked:
                return 0, []
            out = [record]
            size = len(record)
            expected = first + 1
            limit = min(max_bytes, room)
            for sequence, record in self._pending:
                if sequence < expected:
                    continue  # the first, taken already
                if (sequence != expected or len(out) >= max_records
                        or size + len(record) > limit):
                    break
                out.append(record)
                size += len(record)
                expected += 1
            return first, out

    def mark_sent(self, end_sequence: int) -> None:
        """Moves the records below end_sequence from unsent to unacknowledged."""
        with self._lock:
            pending = self._pending
            while pending and pending[0][0] < end_sequence:
                entry = pending.popleft()
                self._unacked.append(entry)
                self._unacked_bytes += len(entry[1])

    def evict_first(self, sequence: int) -> None:
        """Drops the oldest unsent record (it is `sequence`): no broker would take it."""
        with self._lock:
            if self._pending and self._pending[0][0] == sequence:
                _, record = self._pending.popleft()
                self._bytes -= len(record)
                self._evicted += 1
                self._notify()

    def acknowledge(self, next_sequence: int) -> None:
        """The broker holds every record below next_sequence."""
        with self._lock:
            self._acknowledge(next_sequence)

    def snapshot(self, from_sequence: int = 0) -> List[Entry]:
        """The queued records at or above from_sequence, oldest first (for the spool):
        references, not copies. The lock (which append() needs) is held briefly: a short
        tail is walked from the newest end; anything longer is a copy of every
        reference, searched after the lock is released."""
        with self._lock:
            oldest = self._unacked or self._pending
            if not oldest:
                return []
            if oldest[0][0] >= from_sequence:  # all of it (a spool rewrite)
                return [*self._unacked, *self._pending]
            tail: List[Entry] = []
            walked = itertools.islice(
                itertools.chain(reversed(self._pending), reversed(self._unacked)),
                _SNAPSHOT_WALK)
            for entry in walked:
                if entry[0] < from_sequence:
                    tail.reverse()
                    return tail
                tail.append(entry)
            if len(tail) < _SNAPSHOT_WALK:  # the whole queue, walked
                tail.reverse()
                return tail
            everything = [*self._unacked, *self._pending]
        # Sequences grow from the oldest unacknowledged to the newest unsent.
        start = bisect.bisect_left(everything, from_sequence, key=lambda entry: entry[0])
        return everything[start:] if start else everything

    # --- under the lock ----------------------------------------------------------------

    def _acknowledge(self, next_sequence: int) -> None:
        self._acked = max(self._acked, next_sequence)
        for queue in (self._unacked, self._pending):
            while queue and queue[0][0] < next_sequence:
                _, record = queue.popleft()
                self._bytes -= len(record)
                if queue is self._unacked:
                    self._unacked_bytes -= len(record)
        self._notify()

    def _evict_oldest(self, limit: int) -> None:
        while self._bytes > limit:
            queue = self._unacked if self._unacked else self._pending
            _, record = queue.popleft()
            self._bytes -= len(record)
            if queue is self._unacked:
                self._unacked_bytes -= len(record)
            self._evicted += 1
        self._notify()

    def _count_refusal(self) -> None:
        self._refused += 1
        self._last_refusal_ns = time.time_ns()
        self._notify()

    def _notify(self) -> None:
        if self._waiters:
            self._acknowledged_cv.notify_all()

    def _any_below(self, sequence: int) -> bool:
        for queue in (self._unacked, self._pending):
            if queue and queue[0][0] < sequence:
                return True
        return False
