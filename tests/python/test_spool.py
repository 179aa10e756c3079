"""The spool file: its format, torn and damaged tails, locking and orphans."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib

import pytest
import zmq

from logwire import spool
from logwire.messages import encode_identity
from logwire.record_encoding import ProducerIdentity, encode_record
from logwire.record_queue import RecordQueue
from logwire.session import Session
from logwire.spool import SpoolError, SpoolFile, claim_orphans, decode, file_name

IDENTITY = ProducerIdentity("checkout", "host", 99, (5 << 64) | 6, "python", "0.1.0")


def entries(first: int, count: int):
    return [(n, encode_record(f"record {n}", timestamp_ns=n, fields={"seq": n}))
            for n in range(first, first + count)]


def read(path: str):
    with open(path, "rb") as f:
        return decode(f.read())


def new_spool(directory, name="checkout-00000000000000050000000000000006.spool"):
    return SpoolFile.create(str(directory), name, encode_identity(IDENTITY))


def test_the_file_is_named_after_service_and_instance():
    assert file_name("api server/1", IDENTITY.instance_hex) == \
        "api_server_1-00000000000000050000000000000006.spool"


def test_header_layout_is_the_c_plus_plus_producers(tmp_path):
    sp = new_spool(tmp_path)
    sp.write_progress(3, 1234, 17)
    sp.append(entries(0, 1))
    with open(sp.path, "rb") as f:
        data = f.read()
    identity = encode_identity(IDENTITY)
    header = struct.unpack_from("<8sIIQqQ", data)
    assert header == (b"LWSPOOL1", 1, len(identity), 3, 1234, 17)
    assert data[40:40 + len(identity)] == identity
    frame = 40 + ((len(identity) + 7) & ~7)
    length, crc, sequence = struct.unpack_from("<IIQ", data, frame)
    record = data[frame + 16:frame + 16 + length]
    assert sequence == 0 and record == entries(0, 1)[0][1]
    assert crc == zlib.crc32(struct.pack("<Q", 0) + record)
    assert len(data) % 8 == 0
    sp.close(delete=True)


def test_records_and_drops_round_trip(tmp_path):
    sp = new_spool(tmp_path)
    sp.append(entries(0, 5))
    sp.append(entries(7, 2))  # a gap: 5 and 6 were evicted before spooling
    sp.write_progress(2, 555, 3)
    contents = read(sp.path)
    assert contents.identity == encode_identity(IDENTITY)
    assert (contents.dropped, contents.last_drop_ns, contents.acknowledged) == (2, 555, 3)
    assert contents.records == entries(0, 5) + entries(7, 2)
    sp.close(delete=True)
    assert not os.path.exists(sp.path)


@pytest.mark.parametrize("cut", [1, 8, 15, 16, 17, 40])
def test_a_torn_last_frame_is_ignored(tmp_path, cut):
    sp = new_spool(tmp_path)
    sp.append(entries(0, 3))
    size = sp.size
    sp.append(entries(3, 1))
    sp.close(delete=False)
    with open(sp.path, "r+b") as f:
        f.truncate(size + cut)
    contents = read(sp.path)
    assert [s for s, _ in contents.records] == [0, 1, 2]
    assert contents.end == size


def test_a_damaged_frame_ends_the_spool(tmp_path):
    sp = new_spool(tmp_path)
    sp.append(entries(0, 2))
    damaged_at = sp.size + 20
    sp.append(entries(2, 3))
    sp.close(delete=False)
    with open(sp.path, "r+b") as f:
        f.seek(damaged_at)
        f.write(b"\xff")
    assert [s for s, _ in read(sp.path).records] == [0, 1]


def test_sequences_must_grow(tmp_path):
    sp = new_spool(tmp_path)
    sp.append(entries(0, 3) + entries(1, 1))
    sp.close(delete=False)
    assert [s for s, _ in read(sp.path).records] == [0, 1, 2]


@pytest.mark.parametrize("data", [b"", b"LWSPOOL1", b"NOTSPOOL" + bytes(40),
                                  struct.pack("<8sIIQqQ", b"LWSPOOL1", 2, 0, 0, 0, 0),
                                  struct.pack("<8sIIQqQ", b"LWSPOOL1", 1, 5000, 0, 0, 0),
                                  struct.pack("<8sIIQqQ", b"LWSPOOL1", 1, 64, 0, 0, 0)])
def test_what_is_not_a_spool_is_refused(data):
    with pytest.raises(SpoolError):
        decode(data)


def test_truncate_and_rewrite_keep_the_header(tmp_path):
    sp = new_spool(tmp_path)
    sp.append(entries(0, 10))
    sp.write_progress(1, 2, 10)
    sp.truncate()
    assert sp.frame_bytes == 0 and read(sp.path).records == []
    sp.append(entries(10, 10))
    sp.rewrite(entries(15, 5))
    contents = read(sp.path)
    assert contents.records == entries(15, 5) and contents.dropped == 1
    sp.close(delete=True)


def test_a_live_spool_is_not_an_orphan(tmp_path):
    live = new_spool(tmp_path)
    live.append(entries(0, 2))
    other = SpoolFile.create(str(tmp_path), "other-1.spool", encode_identity(IDENTITY))
    assert claim_orphans(str(tmp_path), other.path) == []
    live.close(delete=False)
    (claimed, contents), = claim_orphans(str(tmp_path), other.path)
    assert claimed.path == live.path and contents.records == entries(0, 2)
    # Claimed means locked: nobody else can claim it now.
    assert SpoolFile.claim(live.path) is None
    claimed.close(delete=True)
    other.close(delete=True)
    assert os.listdir(tmp_path) == []


def test_unreadable_spools_are_left_alone(tmp_path):
    (tmp_path / "bad.spool").write_bytes(b"garbage that is not a spool at all" * 2)
    (tmp_path / "notes.txt").write_bytes(b"not a spool name")
    own = new_spool(tmp_path)
    assert claim_orphans(str(tmp_path), own.path) == []
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["bad.spool", "notes.txt", os.path.basename(own.path)])
    own.close(delete=True)


def test_identity_size_is_capped():
    with pytest.raises(ValueError):
        spool.encode_header(bytes(spool.MAX_IDENTITY_BYTES + 1))


# --- creation, rewrite and the files a crash leaves ---------------------------------------

@pytest.mark.parametrize("claimer_holds_lock", [False, True])
def test_creation_survives_a_producer_claiming_orphans_at_that_moment(tmp_path, monkeypatch,
                                                                     claimer_holds_lock):
    """Another producer lists the directory between the creator's open and its flock: it
    must neither make creation fail nor claim the new spool."""
    real_flock = fcntl.flock
    creator = threading.current_thread()
    claimer_locked = threading.Event()
    creator_refused = threading.Event()
    claimed: list = []
    state = {"claimer": None}

    def flock(fd, operation):
        if threading.current_thread() is not creator:
            real_flock(fd, operation)  # raises when it cannot lock
            if claimer_holds_lock:  # it is reading what it locked, for a while
                claimer_locked.set()
                creator_refused.wait(2)
            return None
        if state["claimer"] is None:
            claimer = threading.Thread(
                target=lambda: claimed.extend(claim_orphans(str(tmp_path), "")))
            state["claimer"] = claimer
            claimer.start()
            while claimer.is_alive() and not claimer_locked.is_set():
                time.sleep(0.001)
        try:
            return real_flock(fd, operation)
        except OSError:
            creator_refused.set()
            raise

    monkeypatch.setattr(fcntl, "flock", flock)
    try:
        sp = new_spool(tmp_path)
    finally:
        creator_refused.set()
        if state["claimer"] is not None:
            state["claimer"].join(5)
        monkeypatch.undo()
    assert claimed == []
    assert os.listdir(tmp_path) == [os.path.basename(sp.path)]
    assert read(sp.path).identity == encode_identity(IDENTITY)
    assert SpoolFile.claim(sp.path) is None  # locked by its producer
    sp.append(entries(0, 2))
    assert read(sp.path).records == entries(0, 2)
    sp.close(delete=True)


def test_creation_goes_through_a_locked_tmp_file_renamed_into_place(tmp_path, monkeypatch):
    seen = []
    real_rename = os.rename

    def rename(source, target):
        # Before the rename: the header is written, the tmp file locked, no .spool yet.
        seen.append((os.path.basename(source), os.path.basename(target),
                     sorted(os.listdir(tmp_path)), SpoolFile.claim(source)))
        return real_rename(source, target)

    monkeypatch.setattr(os, "rename", rename)
    sp = new_spool(tmp_path)
    monkeypatch.undo()
    name = os.path.basename(sp.path)
    assert seen == [(name + ".tmp", name, [name + ".tmp"], None)]
    assert os.stat(sp.path).st_mode & 0o777 == 0o600
    sp.close(delete=True)


def write_raw_spool(path, sequences=range(3)):
    with open(path, "wb") as f:
        f.write(spool.encode_header(encode_identity(IDENTITY)) +
                spool.encode_frames(entries(sequences[0], len(sequences))))


def test_a_spool_tmp_is_never_claimed_and_is_deleted_once_nobody_holds_it(tmp_path):
    garbage = tmp_path / "gone-00000000000000010000000000000001.spool.tmp"
    held = tmp_path / "busy-00000000000000020000000000000002.spool.tmp"
    write_raw_spool(garbage)
    write_raw_spool(held)
    fd = os.open(held, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a producer creating or rewriting
    own = new_spool(tmp_path)
    try:
        assert claim_orphans(str(tmp_path), own.path) == []
        assert not garbage.exists()  # left by a crash: deleted
        assert held.exists()
    finally:
        os.close(fd)
    assert claim_orphans(str(tmp_path), own.path) == []
    assert os.listdir(tmp_path) == [os.path.basename(own.path)]
    own.close(delete=True)


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def test_rewrite_replaces_the_file_and_keeps_it_locked(tmp_path):
    sp = new_spool(tmp_path)
    sp.append(entries(0, 20))
    sp.write_progress(4, 44, 10)
    inode = os.stat(sp.path).st_ino
    fds = open_fds()
    sp.rewrite(entries(15, 5))
    assert open_fds() == fds  # the old descriptor is closed, the new one kept
    assert os.stat(sp.path).st_ino != inode  # a new file, renamed over the old one
    assert os.listdir(tmp_path) == [os.path.basename(sp.path)]
    assert SpoolFile.claim(sp.path) is None  # still locked
    contents = read(sp.path)
    assert contents.records == entries(15, 5)
    assert (contents.dropped, contents.last_drop_ns, contents.acknowledged) == (4, 44, 10)
    assert sp.size == os.path.getsize(sp.path) == contents.end
    sp.append(entries(20, 2))
    sp.write_progress(5, 55, 16)
    contents = read(sp.path)
    assert contents.records == entries(15, 5) + entries(20, 2) and contents.dropped == 5
    sp.truncate()
    assert read(sp.path).records == []
    sp.close(delete=True)
    assert os.listdir(tmp_path) == []


REWRITE_KILLED = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, sys.argv[2])
    from logwire import spool
    from test_spool import IDENTITY, entries, new_spool
    sp = new_spool(sys.argv[1])
    sp.append(entries(0, 10))
    sp.write_progress(1, 11, 0)

    def killed_mid_write(fd, data, offset):
        os.pwrite(fd, bytes(data)[:len(data) // 2], offset)
        os._exit(9)

    spool._write_all = killed_mid_write
    sp.rewrite(entries(5, 5))
""")


def test_a_producer_killed_mid_rewrite_leaves_its_spool_whole(tmp_path):
    done = subprocess.run([sys.executable, "-c", REWRITE_KILLED, str(tmp_path),
                           os.path.dirname(__file__)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 9, done.stderr
    name = "checkout-00000000000000050000000000000006.spool"
    contents = read(tmp_path / name)
    assert contents.records == entries(0, 10) and contents.dropped == 1
    # The half-written tmp file nobody holds is garbage: deleted by the next claim.
    (claimed, found), = claim_orphans(str(tmp_path), "")
    assert found.records == entries(0, 10)
    assert os.listdir(tmp_path) == [name]
    claimed.close(delete=True)


def test_records_queued_during_a_rewrite_are_spooled_once(tmp_path):
    """The rewrite's snapshot holds records that were not spooled yet: they must not be
    appended a second time (a repeated sequence ends the spool when it is read)."""
    size = len(entries(0, 1)[0][1])
    limit = 10 * size
    queue = RecordQueue(limit)
    sp = new_spool(tmp_path)
    context = zmq.Context()
    session = Session(context, "tcp://127.0.0.1:9", b"", queue, reconnect_max=1.0,
                      spool=sp, spool_limit=limit)
    real_snapshot = queue.snapshot
    injected = []

    def snapshot(from_sequence=0):
        if sp.frame_bytes > 2 * limit and not injected:  # the rewrite's: one more record
            injected.append(queue.append(entries(1000, 1)[0][1]))
        return real_snapshot(from_sequence)

    queue.snapshot = snapshot
    try:
        n = 0
        while not injected:
            queue.append(entries(n, 1)[0][1])
            n += 1
            session._spool_new()
            assert n < 100
        for _ in range(3):
            queue.append(entries(n, 1)[0][1])
            n += 1
            session._spool_new()
        queued = real_snapshot(0)
        # The file may still hold records evicted since the rewrite; after them, exactly
        # the queue.
        assert [e for e in read(sp.path).records if e[0] >= queued[0][0]] == queued
        assert sp.frame_bytes <= 2 * limit
    finally:
        sp.close(delete=True)
        context.term()


def test_a_claimer_that_opened_the_file_a_rewrite_replaced_claims_nothing(tmp_path,
                                                                          monkeypatch):
    """Opened before the rename, locked after the old descriptor closed: what it locked
    is no longer the spool under that name, and must not be replayed (nor deleted by
    path once delivered, which would delete the live spool)."""
    live = new_spool(tmp_path)
    live.append(entries(0, 10))
    real_flock = fcntl.flock
    rewrites = []

    def flock(fd, operation):
        if not rewrites:  # between the claimer's open and its flock
            rewrites.append(1)
            live.rewrite(entries(5, 5))
        return real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    assert SpoolFile.claim(live.path) is None
    monkeypatch.undo()
    assert rewrites and read(live.path).records == entries(5, 5)
    assert SpoolFile.claim(live.path) is None  # the new file is locked
    live.close(delete=True)
