"""The spool file: its format, torn and damaged tails, locking and orphans."""

from __future__ import annotations

import os
import struct
import zlib

import pytest

from logwire import spool
from logwire.messages import encode_identity
from logwire.record_encoding import ProducerIdentity, encode_record
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
