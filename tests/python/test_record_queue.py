"""The bounded queue of unacknowledged records."""

from __future__ import annotations

import threading

from logwire.record_queue import RecordQueue


def record(n: int, size: int = 100) -> bytes:
    return n.to_bytes(4, "little") + bytes(size - 4)


def sequences(queue: RecordQueue) -> list:
    return [sequence for sequence, _ in queue.snapshot(0)]


def test_a_full_queue_evicts_the_oldest_and_counts_exactly():
    queue = RecordQueue(limit_bytes=1000)
    for n in range(25):
        accepted, _ = queue.append(record(n))
        assert accepted
    assert sequences(queue) == list(range(15, 25))
    assert queue.evicted == 15
    assert queue.refused == (0, 0)  # evictions leave gaps; the broker counts those
    assert queue.queued_bytes == 1000


def test_drops_take_unacknowledged_records_before_unsent_ones():
    queue = RecordQueue(limit_bytes=500)
    for n in range(5):
        queue.append(record(n))
    first, batch = queue.next_batch(2, 10_000, 10_000)
    assert (first, len(batch)) == (0, 2)
    queue.mark_sent(2)
    queue.append(record(5))
    assert sequences(queue) == [1, 2, 3, 4, 5]
    queue.append(record(6))
    assert sequences(queue) == [2, 3, 4, 5, 6]
    assert queue.evicted == 2


def test_a_refused_record_gets_no_sequence():
    queue = RecordQueue(limit_bytes=150)
    assert queue.append(record(0, 200)) == (False, False)
    queue.count_refused()
    assert queue.append(record(1))[0]
    refused, last_refusal_ns = queue.refused
    assert refused == 2 and last_refusal_ns > 0 and queue.evicted == 0
    assert sequences(queue) == [0]


def test_acknowledged_records_leave_the_queue():
    queue = RecordQueue(limit_bytes=10_000)
    for n in range(10):
        queue.append(record(n))
    queue.mark_sent(10)
    queue.acknowledge(4)
    assert sequences(queue) == list(range(4, 10)) and queue.acknowledged == 4
    queue.acknowledge(3)  # an older ACK changes nothing
    assert sequences(queue) == list(range(4, 10)) and queue.acknowledged == 4
    queue.acknowledge(10)
    assert queue.empty() and queue.queued_bytes == 0 and queue.acknowledged == 10


def test_a_new_session_replays_from_the_brokers_next_sequence():
    queue = RecordQueue(limit_bytes=10_000)
    for n in range(10):
        queue.append(record(n))
    first, batch = queue.next_batch(100, 100_000, 100_000)
    queue.mark_sent(first + len(batch))
    assert queue.next_batch(100, 100_000, 100_000)[1] == []
    queue.restart(6)
    first, batch = queue.next_batch(100, 100_000, 100_000)
    assert first == 6 and batch == [record(n) for n in range(6, 10)]


def test_a_batch_keeps_to_its_record_and_byte_limits_and_the_window():
    queue = RecordQueue(limit_bytes=100_000)
    for n in range(50):
        queue.append(record(n))
    assert len(queue.next_batch(7, 100_000, 100_000)[1]) == 7
    assert len(queue.next_batch(100, 350, 100_000)[1]) == 3
    queue.mark_sent(45)
    assert len(queue.next_batch(100, 100_000, 4600)[1]) == 1  # 4500 in flight
    assert queue.next_batch(100, 100_000, 4550)[1] == []


def test_a_record_larger_than_a_batch_goes_alone():
    queue = RecordQueue(limit_bytes=100_000)
    queue.append(record(0, 5000))
    queue.append(record(1))
    assert queue.next_batch(100, 1000, 100_000) == (0, [record(0, 5000)])


def test_a_batch_ends_at_a_gap():
    queue = RecordQueue(entries=[(3, record(3)), (4, record(4)), (7, record(7))])
    assert queue.next_batch(100, 100_000, 100_000) == (3, [record(3), record(4)])
    assert queue.next_sequence == 8


def test_a_loaded_queue_over_its_bound_evicts_the_oldest():
    queue = RecordQueue(limit_bytes=300, refused=4, last_refusal_ns=5,
                        entries=[(n, record(n)) for n in range(10)])
    assert sequences(queue) == [7, 8, 9]
    assert queue.evicted == 7 and queue.refused == (4, 5)


def test_a_loaded_queue_forgets_what_was_acknowledged():
    queue = RecordQueue(acknowledged=6, entries=[(n, record(n)) for n in range(10)])
    assert sequences(queue) == [6, 7, 8, 9]
    assert queue.acknowledged == 6 and queue.next_sequence == 10
    assert RecordQueue(acknowledged=12).next_sequence == 12


def test_append_reports_a_wake_up_only_when_the_sender_sleeps():
    queue = RecordQueue(limit_bytes=10_000)
    assert queue.append(record(0)) == (True, False)
    assert not queue.arm_wakeup()  # work is waiting: no sleep
    first, batch = queue.next_batch(10, 10_000, 10_000)
    queue.mark_sent(first + len(batch))
    assert queue.arm_wakeup()
    assert queue.append(record(1)) == (True, True)
    assert queue.append(record(2)) == (True, False)


def test_wait_acknowledged_returns_once_the_broker_has_everything():
    queue = RecordQueue(limit_bytes=10_000)
    for n in range(3):
        queue.append(record(n))
    assert not queue.wait_acknowledged(3, 0.01)
    acknowledger = threading.Timer(0.05, queue.acknowledge, args=(3,))
    acknowledger.start()
    assert queue.wait_acknowledged(3, 5)
    acknowledger.join()


def test_many_threads_append_without_losing_count():
    queue = RecordQueue(limit_bytes=100 * 50)
    threads = [threading.Thread(target=lambda: [queue.append(record(0)) for _ in range(500)])
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert queue.next_sequence == 2000
    assert len(sequences(queue)) + queue.evicted == 2000


def test_arm_wakeup_lets_the_sender_sleep_only_when_nothing_can_be_sent():
    queue = RecordQueue(limit_bytes=10_000)
    queue.append(record(0))
    queue.append(record(1))
    queue.mark_sent(2)  # 200 bytes in flight
    queue.append(record(2))
    # A record that fits the window waits: no sleep, and no wake-up armed either.
    assert not queue.arm_wakeup(300)
    assert queue.append(record(3)) == (True, False)
    # The window is full: only an ACK (which wakes the poll) lets it go; a new record
    # need not wake the sender.
    assert queue.arm_wakeup(250)
    assert queue.append(record(4)) == (True, False)
    queue.acknowledge(2)
    first, batch = queue.next_batch(100, 10_000, 10_000)
    queue.mark_sent(first + len(batch))
    assert queue.arm_wakeup(10_000)
    assert queue.append(record(5)) == (True, True)


def test_snapshot_takes_a_tail_or_everything_across_both_runs_and_gaps():
    queue = RecordQueue(limit_bytes=1_000_000,
                        entries=[(n, record(n)) for n in range(0, 3000) if n % 7])
    first, batch = queue.next_batch(1000, 1_000_000, 1_000_000)
    queue.mark_sent(first + len(batch))  # some unacknowledged, the rest unsent
    everything = [(n, record(n)) for n in range(0, 3000) if n % 7]
    assert queue.snapshot(0) == everything
    for start in (0, 1, 7, 500, 1200, 2990, 2999, 3000, 5000):
        assert queue.snapshot(start) == [e for e in everything if e[0] >= start], start


def test_a_closed_queue_refuses_and_counts():
    queue = RecordQueue(limit_bytes=10_000)
    assert queue.append(record(0)) == (True, False)
    queue.close()
    assert queue.append(record(1)) == (False, False)
    assert queue.refused[0] == 1 and queue.next_sequence == 1
    assert sequences(queue) == [0]
