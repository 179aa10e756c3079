"""The producer's side of the ZeroMQ protocol, against a fake broker: sessions, ACKs,
replay after a broker restart, dedup-safe resends, drops while the broker is away,
heartbeats, BYE."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import logwire
from conftest import free_port, wait_for
from fake_broker import FakeBroker
from logwire.record_encoding import encode_record


def open_producer(producers, endpoint, **options):
    options.setdefault("reconnect_max", 0.3)
    producer = logwire.Producer(options.pop("service", "proto"), endpoint=endpoint,
                                **options)
    producers.append(producer)
    return producer


def data_envelopes(broker):
    return [event.envelope for event in broker.commands("DATA")]


def test_records_are_stored_in_order_and_acknowledged(fake_broker, producers):
    producer = open_producer(producers, fake_broker.endpoint)
    for n in range(100):
        assert producer.log("INFO", f"record {n}", fields={"seq": n})
    assert producer.flush(5)
    instance = producer.identity.instance_id
    assert fake_broker.sequences(instance) == list(range(100))
    assert [r["fields"][0]["value"] for r in fake_broker.records(instance)] == list(range(100))
    assert producer.status()["queued_bytes"] == 0
    hello, = fake_broker.commands("HELLO")
    assert hello.instance == instance


def test_a_restarted_broker_gets_a_replay_from_its_next_sequence(fake_broker, producers):
    producer = open_producer(producers, fake_broker.endpoint)
    instance = producer.identity.instance_id
    for n in range(10):
        producer.log("INFO", f"before {n}")
    assert producer.flush(5)
    # The broker goes down: what is sent now is neither stored nor acknowledged.
    fake_broker.mute = True
    for n in range(10, 20):
        producer.log("INFO", f"while down {n}")
    assert wait_for(lambda: any(e.envelope and e.envelope["firstSequence"] + len(
        e.envelope["records"]) == 20 for e in fake_broker.commands("DATA")), 5)
    # ... and comes back without its sessions: no_session, HELLO, replay.
    fake_broker.forget_sessions()
    fake_broker.mute = False
    assert producer.flush(8)
    assert fake_broker.sequences(instance) == list(range(20))
    assert fake_broker.duplicates == 0
    assert producer.status()["sessions_started"] == 2
    first_hello, second_hello = fake_broker.commands("HELLO")
    after = [e.envelope for e in fake_broker.commands("DATA") if e.at > second_hello.at]
    assert after[0]["firstSequence"] == 10
    assert [r["message"] for r in fake_broker.records(instance)][10] == "while down 10"


def test_a_resend_of_stored_records_is_stored_once(fake_broker, producers):
    producer = open_producer(producers, fake_broker.endpoint)
    instance = producer.identity.instance_id
    for n in range(5):
        producer.log("INFO", f"acknowledged {n}")
    assert producer.flush(5)
    # Stored but never acknowledged (the ACKs were lost) ...
    fake_broker.withhold_acks = True
    for n in range(5, 15):
        producer.log("INFO", f"stored, unacknowledged {n}")
    assert wait_for(lambda: fake_broker.sequences(instance) == list(range(15)), 5)
    # ... and a broker that says it has nothing from 5 on: everything is sent again.
    fake_broker.forget_sessions()
    fake_broker.welcome_from = 5
    fake_broker.withhold_acks = False
    assert producer.flush(8)
    assert fake_broker.duplicates == 10
    assert fake_broker.sequences(instance) == list(range(15))


def test_evictions_while_the_broker_is_away_are_counted_exactly(producers):
    port = free_port()
    size = len(encode_record("record 000", timestamp_ns=1, fields={"seq": 0}))
    producer = open_producer(producers, f"tcp://127.0.0.1:{port}", queue_bytes=50 * size,
                             reconnect_max=0.2)
    for n in range(200):
        assert producer.log("INFO", f"record {n:03d}", fields={"seq": n})
    assert producer.dropped == 150
    assert not producer.flush(0.1)
    broker = FakeBroker(port=port)
    broker.start()
    try:
        assert producer.flush(8)
        instance = producer.identity.instance_id
        assert broker.sequences(instance) == list(range(150, 200))
        envelopes = data_envelopes(broker)
        assert envelopes[0]["firstSequence"] == 150
        # Evictions are gaps, which the broker counts; `dropped` is for refusals only.
        assert all(e["dropped"] == 0 for e in envelopes)
        assert broker.lost == {instance: 150}
        assert [r["fields"][0]["value"] for r in broker.records(instance)] == \
            list(range(150, 200))
    finally:
        producer.close(0.5)
        broker.stop()


def test_refusals_with_nothing_after_them_are_still_reported(fake_broker, producers):
    producer = open_producer(producers, fake_broker.endpoint, queue_bytes=1000)
    assert producer.log("INFO", "x" * 2000) is False  # larger than the whole queue
    assert producer.dropped == 1
    assert wait_for(lambda: any(e.envelope and e.envelope["dropped"] == 1
                                for e in fake_broker.commands("DATA")), 5)
    assert producer.log("INFO", "fits")
    assert producer.flush(5)
    instance = producer.identity.instance_id
    assert fake_broker.sequences(instance) == [0]  # a refusal takes no sequence
    assert fake_broker.lost == {}


def test_close_flushes_then_says_bye(fake_broker, producers):
    producer = open_producer(producers, fake_broker.endpoint)
    for n in range(5):
        producer.log("WARN", f"closing {n}")
    assert producer.close()
    commands = [e.command for e in fake_broker.commands()]
    assert commands[0] == "HELLO" and commands[-1] == "BYE"
    assert fake_broker.sequences(producer.identity.instance_id) == list(range(5))
    assert producer.log("INFO", "after close") is False
    assert producer.close() is True  # a second close changes nothing


def test_close_without_a_broker_gives_up_at_its_timeout(producers):
    producer = open_producer(producers, f"tcp://127.0.0.1:{free_port()}")
    producer.log("INFO", "never delivered")
    started = time.monotonic()
    assert producer.close(timeout=0.3) is False
    assert time.monotonic() - started < 2.0


def test_an_idle_session_pings(fake_broker, producers):
    producer = open_producer(producers, fake_broker.endpoint)
    producer.log("INFO", "one")
    assert producer.flush(5)
    assert wait_for(lambda: fake_broker.commands("PING"), 3)
    assert producer.status()["state"] == "streaming"


def test_a_silent_broker_means_a_new_session_on_a_fresh_socket(fake_broker, producers):
    producer = open_producer(producers, fake_broker.endpoint)
    producer.log("INFO", "one")
    assert producer.flush(5)
    fake_broker.mute = True
    # Three seconds without a word from the broker: HELLO again, from a new socket.
    assert wait_for(lambda: len(fake_broker.commands("HELLO")) >= 2, 6)
    first, second = fake_broker.commands("HELLO")[:2]
    assert first.peer != second.peer
    assert 2.5 < second.at - first.at < 5.5


def test_every_attempt_uses_a_fresh_socket_within_reconnect_max(producers):
    broker = FakeBroker(mute=True)
    broker.start()
    try:
        open_producer(producers, broker.endpoint, reconnect_max=0.25)
        assert wait_for(lambda: len(broker.commands("HELLO")) >= 4, 5)
        hellos = broker.commands("HELLO")
        assert len({h.peer for h in hellos}) == len(hellos)
        gaps = [b.at - a.at for a, b in zip(hellos, hellos[1:])]
        assert all(0.15 < gap < 0.8 for gap in gaps), gaps
    finally:
        broker.stop()


def test_log_never_raises_and_counts_what_it_refuses(producers):
    producer = open_producer(producers, "tcp://127.0.0.1:9")

    class Exploding:
        def __str__(self):
            raise RuntimeError("boom")

    assert producer.log("INFO", Exploding()) is True  # shown with the default repr
    assert producer.log("INFO", "bad timestamp", timestamp_ns=2**70) is False
    assert producer.log("INFO", "too many", fields={str(i): i for i in range(10_001)}) \
        is False
    assert producer.dropped == 2
    assert producer.log(12345, "odd level") is True


def test_the_endpoint_comes_from_the_environment(monkeypatch, producers):
    monkeypatch.setenv("LOGWIRE_ENDPOINT", "tcp://127.0.0.1:7")
    assert open_producer(producers, None).endpoint == "tcp://127.0.0.1:7"
    monkeypatch.delenv("LOGWIRE_ENDPOINT")
    assert open_producer(producers, None).endpoint == "tcp://127.0.0.1:7717"


def test_identity_says_who_sends(fake_broker, producers):
    producer = open_producer(producers, fake_broker.endpoint, service="who")
    identity = producer.identity
    assert (identity.service, identity.pid, identity.language) == ("who", os.getpid(),
                                                                   "python")
    assert identity.library_version == logwire.__version__
    assert 0 <= identity.instance_id < 2**128
    other = open_producer(producers, "tcp://127.0.0.1:9", service="who")
    assert other.identity.instance_id != identity.instance_id


def test_a_forked_child_is_a_new_instance(fake_broker, producers):
    producer = open_producer(producers, fake_broker.endpoint)
    producer.log("INFO", "parent before fork")
    assert producer.flush(5)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: log, deliver, report the instance, leave without atexit
        try:
            os.close(read_end)
            producer.log("INFO", "from the child")
            ok = producer.flush(5)
            os.write(write_end, f"{producer.identity.instance_id} {int(ok)}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child_instance, ok = pipe.read().split()
    os.waitpid(pid, 0)
    assert ok == "1"
    assert int(child_instance) != producer.identity.instance_id
    assert [r["message"] for r in fake_broker.records(int(child_instance))] == \
        ["from the child"]
    producer.log("INFO", "parent after fork")
    assert producer.flush(5)
    assert [r["message"] for r in fake_broker.records(producer.identity.instance_id)] == \
        ["parent before fork", "parent after fork"]


def test_a_forked_child_starts_only_when_it_logs(fake_broker, producers, tmp_path):
    spool_dir = str(tmp_path / "spool")
    producer = open_producer(producers, fake_broker.endpoint, spool_dir=spool_dir)
    producer.log("INFO", "parent before fork")
    assert producer.flush(5)
    to_parent_read, to_parent = os.pipe()
    to_child, to_child_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.close(to_parent_read)
            os.close(to_child_write)
            idle = (threading.active_count(), len(os.listdir(spool_dir)),
                    producer.identity.pid, producer.status()["state"])
            os.write(to_parent, (repr(idle) + "\n").encode())
            os.read(to_child, 1)

            def log_some(thread):
                for n in range(25):
                    producer.log("INFO", f"child {thread} {n}")

            threads = [threading.Thread(target=log_some, args=(t,)) for t in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            ok = producer.flush(5)
            os.write(to_parent, f"{producer.identity.instance_id} {int(ok)}\n".encode())
        finally:
            os._exit(0)
    os.close(to_parent)
    os.close(to_child)
    with os.fdopen(to_parent_read) as pipe:
        idle = pipe.readline()
        # Nothing started at fork: no thread, no spool file, no HELLO, until it logs.
        assert idle.strip() == repr((1, 1, pid, "not started"))
        time.sleep(0.2)
        assert len(fake_broker.commands("HELLO")) == 1
        os.write(to_child_write, b"g")
        os.close(to_child_write)
        child_instance, ok = pipe.readline().split()
    os.waitpid(pid, 0)
    assert ok == "1"
    child_instance = int(child_instance)
    assert child_instance != producer.identity.instance_id
    messages = [r["message"] for r in fake_broker.records(child_instance)]
    assert sorted(messages) == sorted(f"child {t} {n}" for t in range(4) for n in range(25))
    assert len(fake_broker.commands("HELLO")) == 2
    producer.log("INFO", "parent after fork")
    assert producer.flush(5)


def test_a_forked_child_that_cannot_spool_keeps_its_records_in_memory(fake_broker,
                                                                      producers, tmp_path):
    producer = open_producer(producers, fake_broker.endpoint, spool_dir=str(tmp_path))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its spool directory is unusable by the time it logs
        try:
            os.close(read_end)
            producer._spool_dir = os.path.join(os.devnull, "spool")
            logged = producer.log("INFO", "from the child")
            ok = producer.flush(5)
            report = (logged, ok, producer.status()["spool"], producer.identity.instance_id)
            os.write(write_end, repr(report).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        logged, ok, spool, child_instance = eval(pipe.read())  # noqa: S307 - our child
    os.waitpid(pid, 0)
    assert (logged, ok, spool) == (True, True, None)
    assert [r["message"] for r in fake_broker.records(child_instance)] == ["from the child"]


def test_a_record_queued_just_before_the_sender_sleeps_goes_at_once(producers):
    broker = FakeBroker(heartbeat_interval_ms=2500)
    broker.start()
    try:
        producer = open_producer(producers, broker.endpoint)
        instance = producer.identity.instance_id
        producer.log("INFO", "first")
        assert producer.flush(5)
        queue = producer._queue
        real_arm_wakeup = queue.arm_wakeup
        raced = []

        def arm_wakeup(*args):
            if not raced and queue.next_sequence == 2 and not queue.has_unsent():
                # A log call between the sender's last batch and its going to sleep.
                raced.append(time.monotonic())
                queue.append(encode_record("raced", timestamp_ns=1))
            return real_arm_wakeup(*args)

        queue.arm_wakeup = arm_wakeup
        broker.withhold_acks = True  # no ACK to wake the sender by chance
        producer.log("INFO", "second")
        assert wait_for(lambda: broker.sequences(instance) == [0, 1, 2], 5)
        sent = [e.at for e in broker.commands("DATA") if e.envelope["records"] and
                e.envelope["firstSequence"] + len(e.envelope["records"]) == 3]
        assert sent[0] - raced[0] < 0.5
    finally:
        broker.withhold_acks = False
        producers[-1].close(0.5)
        broker.stop()


def test_a_second_close_waits_for_the_first_and_tells_its_outcome(producers):
    producer = open_producer(producers, f"tcp://127.0.0.1:{free_port()}")
    producer.log("INFO", "never delivered")
    outcome = []
    first = threading.Thread(target=lambda: outcome.append(producer.close(timeout=0.5)))
    first.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert producer.close() is False
    assert time.monotonic() - started > 0.2  # it waited for the first
    first.join(5)
    assert outcome == [False]


def test_records_logged_once_close_began_are_counted_as_dropped(producers):
    producer = open_producer(producers, f"tcp://127.0.0.1:{free_port()}")
    producer.log("INFO", "queued")
    first = threading.Thread(target=producer.close, kwargs={"timeout": 0.5})
    first.start()
    time.sleep(0.1)
    assert producer.log("INFO", "too late") is False
    assert producer.dropped == 1
    first.join(5)
    assert producer.log("INFO", "later still") is False
    assert producer.dropped == 2


def load_tool(endpoint: str, service: str, count: int, rate: float, *extra: str):
    return subprocess.Popen(
        [sys.executable, "-m", "logwire.load", "--endpoint", endpoint, "--service", service,
         "--count", str(count), "--rate", str(rate), "--reconnect-max", "0.5", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_load_tool_logs_paced_records_and_reports(fake_broker):
    process = load_tool(fake_broker.endpoint, "load", 300, 3000)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out == "done 300 dropped 0\n"
    hello, = fake_broker.commands("HELLO")
    records = fake_broker.records(hello.instance)
    assert [{f["key"]: f["value"] for f in r["fields"]} for r in records] == [
        {"seq": n, "thread": 0} for n in range(300)]


def test_the_load_tool_rides_out_a_broker_that_goes_away_and_comes_back():
    first = FakeBroker()
    first.start()
    port = first.port
    process = load_tool(first.endpoint, "load-restart", 1500, 1000)
    try:
        assert wait_for(lambda: first.commands("DATA"), 10)
        time.sleep(0.3)
        first.stop()  # the broker is gone; its store survives, as the real one's does
        time.sleep(0.6)
        second = FakeBroker(port=port, stored=first.stored)
        second.start()
        try:
            out, err = process.communicate(timeout=40)
        finally:
            second.stop()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert out == "done 1500 dropped 0\n"
    instance, = first.stored
    seqs = [{f["key"]: f["value"] for f in r["fields"]}["seq"]
            for r in second.records(instance)]
    assert seqs == list(range(1500))
    assert len(second.commands("HELLO")) >= 1


def test_flush_after_close_does_not_wait_again(producers):
    producer = open_producer(producers, f"tcp://127.0.0.1:{free_port()}")
    producer.log("INFO", "undelivered")
    assert producer.close(timeout=0.1) is False
    started = time.monotonic()
    assert producer.flush(5) is False
    assert time.monotonic() - started < 0.5


def test_the_exit_hook_delivers_what_is_queued(fake_broker):
    script = ("import logwire, sys\n"
              "p = logwire.Producer('at-exit', endpoint=sys.argv[1])\n"
              "for n in range(20): p.log('INFO', f'last words {n}')\n")
    done = subprocess.run([sys.executable, "-c", script, fake_broker.endpoint],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    hello, = fake_broker.commands("HELLO")
    assert fake_broker.sequences(hello.instance) == list(range(20))
    assert fake_broker.commands()[-1].command == "BYE"
