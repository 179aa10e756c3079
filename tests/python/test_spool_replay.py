"""A producer with a spool directory: its own spool follows the queue, and spools of
instances that are gone are replayed under their own identity."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import logwire
from conftest import free_port, wait_for
from fake_broker import FakeBroker
from logwire.messages import encode_identity
from logwire.record_encoding import ProducerIdentity, encode_record
from logwire.spool import SpoolFile, decode, file_name

DEAD = ProducerIdentity("checkout", "old-host", 4321, (0xABC << 64) | 0xDEF, "python",
                        "0.1.0")


def write_orphan(directory, identity=DEAD, sequences=range(10), dropped=0, acknowledged=0):
    spool = SpoolFile.create(str(directory), file_name(identity.service,
                                                        identity.instance_hex),
                             encode_identity(identity))
    spool.append([(n, encode_record(f"spooled {n}", timestamp_ns=n, fields={"seq": n}))
                  for n in sequences])
    if dropped or acknowledged:
        spool.write_progress(dropped, 777, acknowledged)
    spool.close(delete=False)
    return spool.path


def test_an_orphan_is_replayed_under_its_own_identity_then_deleted(tmp_path, fake_broker,
                                                                   producers):
    # 0-2 acknowledged before the instance died, 6-7 evicted from its full queue, 3
    # refused before they got a sequence.
    path = write_orphan(tmp_path, sequences=[3, 4, 5, 8, 9], dropped=3, acknowledged=3)
    producer = logwire.Producer("checkout", endpoint=fake_broker.endpoint,
                                spool_dir=str(tmp_path), reconnect_max=0.3)
    producers.append(producer)
    assert wait_for(lambda: not os.path.exists(path), 8)
    assert fake_broker.sequences(DEAD.instance_id) == [3, 4, 5, 8, 9]
    hello = [h for h in fake_broker.commands("HELLO") if h.instance == DEAD.instance_id]
    assert len(hello) == 1
    data = [e for e in fake_broker.commands("DATA") if e.instance == DEAD.instance_id]
    envelopes = [e.envelope for e in data]
    assert envelopes[0]["firstSequence"] == 3 and len(envelopes[0]["records"]) == 3
    assert all(e["dropped"] == 3 and e["lastDropNs"] == 777 for e in envelopes)
    assert all(e.acknowledged >= 3 for e in data)
    assert fake_broker.lost == {DEAD.instance_id: 2}  # 6 and 7
    assert any(e.command == "BYE" and e.instance == DEAD.instance_id
               for e in fake_broker.commands())
    # The live producer's own spool is still there, and its own records flow as usual.
    assert os.listdir(tmp_path) == [os.path.basename(producer.spool_path)]
    producer.log("INFO", "live")
    assert producer.flush(5)


def test_what_the_broker_holds_already_is_not_stored_twice(tmp_path, fake_broker,
                                                           producers):
    fake_broker.stored[DEAD.instance_id] = {n: {"pre": True} for n in range(6)}
    path = write_orphan(tmp_path)
    producers.append(logwire.Producer("checkout", endpoint=fake_broker.endpoint,
                                      spool_dir=str(tmp_path), reconnect_max=0.3))
    assert wait_for(lambda: not os.path.exists(path), 8)
    assert fake_broker.sequences(DEAD.instance_id) == list(range(10))
    assert fake_broker.duplicates == 0  # WELCOME said 6: the replay started there


def test_the_spool_follows_the_queue(tmp_path, producers):
    port = free_port()
    producer = logwire.Producer("follow", endpoint=f"tcp://127.0.0.1:{port}",
                                spool_dir=str(tmp_path), reconnect_max=0.2,
                                queue_bytes=1 << 20)
    producers.append(producer)
    for n in range(20):
        producer.log("INFO", f"queued {n}")

    def spooled():
        with open(producer.spool_path, "rb") as f:
            return [s for s, _ in decode(f.read()).records]

    assert wait_for(lambda: spooled() == list(range(20)), 5)
    broker = FakeBroker(port=port)
    broker.start()
    try:
        assert producer.flush(8)
        assert wait_for(lambda: spooled() == [], 5)  # cut back once all is acknowledged
        assert producer.close()
        assert not os.path.exists(producer.spool_path)
    finally:
        broker.stop()


CRASHING_BACKEND = textwrap.dedent("""
    import os, sys, time
    import logwire
    producer = logwire.Producer("crashy", endpoint=sys.argv[1], spool_dir=sys.argv[2],
                                reconnect_max=0.2)
    for n in range(50):
        producer.log("ERROR", f"before the crash {n}", fields={"seq": n})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(producer.spool_path, "rb") as f:
            if len(logwire.spool.decode(f.read()).records) == 50:
                break
        time.sleep(0.01)
    print(producer.identity.instance_id, flush=True)
    os._exit(9)  # no atexit, no close: as if killed
""")


def test_records_of_a_backend_that_died_while_the_broker_was_away_arrive(tmp_path,
                                                                        producers):
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    import logwire.spool  # noqa: F401 - the child uses it through the package
    done = subprocess.run([sys.executable, "-c", CRASHING_BACKEND, endpoint, str(tmp_path)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 9, done.stderr
    dead_instance = int(done.stdout)
    assert len(os.listdir(tmp_path)) == 1
    broker = FakeBroker(port=port)
    broker.start()
    try:
        producers.append(logwire.Producer("crashy", endpoint=endpoint,
                                          spool_dir=str(tmp_path), reconnect_max=0.2))
        assert wait_for(lambda: broker.sequences(dead_instance) == list(range(50)), 8)
        messages = [r["message"] for r in broker.records(dead_instance)]
        assert messages == [f"before the crash {n}" for n in range(50)]
        assert wait_for(lambda: len(os.listdir(tmp_path)) == 1, 5)  # only the new one
    finally:
        producers[-1].close(0.5)
        broker.stop()


def test_a_spool_left_by_a_close_without_broker_is_replayed_next_time(tmp_path, producers):
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    first = logwire.Producer("closer", endpoint=endpoint, spool_dir=str(tmp_path),
                             reconnect_max=0.2)
    for n in range(7):
        first.log("INFO", f"left behind {n}")
    assert first.close(timeout=0.2) is False
    assert os.path.exists(first.spool_path)
    broker = FakeBroker(port=port)
    broker.start()
    try:
        second = logwire.Producer("closer", endpoint=endpoint, spool_dir=str(tmp_path),
                                  reconnect_max=0.2)
        producers.append(second)
        instance = first.identity.instance_id
        assert wait_for(lambda: broker.sequences(instance) == list(range(7)), 8)
        assert wait_for(lambda: not os.path.exists(first.spool_path), 5)
    finally:
        broker.stop()
