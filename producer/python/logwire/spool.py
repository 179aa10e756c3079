"""A producer's records on disk, so that they survive the backend's restart while the
broker is away.

One file per producer instance, ``<spool_dir>/<service>-<instance hex>.spool`` (mode
0600; the instance as 16 hex digits of hi then 16 of lo), held under an exclusive
flock(2) while the producer lives. A file whose lock can be taken belongs to an instance
that is gone: the next producer opening the directory replays it under the dead
instance's own identity and sequences (the broker stores a sequence once per instance,
so replaying what already arrived is harmless) and deletes it once acknowledged.

The format is the C++ producer's (producer/src/spool.h), so producers in both languages
can share a directory and replay each other's spools. Little-endian::

     0        8         12              16         24              32             40
    +--------+---------+---------------+----------+---------------+--------------+----------+
    | magic  | version | identity_size | dropped  | last_drop_ns  | acknowledged | identity |
    +--------+---------+---------------+----------+---------------+--------------+----------+
     "LWSPOOL1"  u32 1    u32 (<= 4096)   u64        i64             u64            padded 8
                                          |__ rewritten in place as they change __|

    identity: the ProducerIdentity FlatBuffer; dropped, last_drop_ns and acknowledged:
    the Envelope fields of the same names (records refused before they got a sequence,
    when the latest was, the highest ACK had).

    then frames, each 8-aligned:
     0        4        8          16
    +--------+--------+----------+-------------------------+
    | length | crc32  | sequence | record (length bytes)   |  padded to 8
    +--------+--------+----------+-------------------------+
      u32      u32      u64        a Record FlatBuffer, as sent in an envelope

crc32 (zlib's) covers the sequence and the record. A frame cut short, failing its crc
or not above the previous sequence ends the spool there: a producer killed mid-write
loses only the frame it was writing. The file is cut back to its header whenever every
record is acknowledged, and rewritten from the queue when it grows past twice the
queue's bound. Nothing is fsync'd: a spool survives the process, not the machine.

A spool never appears unlocked, nor half-written, under its ``.spool`` name: creating
one, and rewriting one, writes ``<name>.spool.tmp`` (O_CREAT|O_EXCL, 0600, locked with
flock before anything is written) and renames it to ``<name>.spool``; the lock goes with
the open file. A producer claiming orphans therefore never takes a spool being created,
and a producer killed mid-rewrite leaves its previous spool whole. A ``.spool.tmp`` is
never replayed; one whose lock can be taken was left by a crash and is deleted. The C++
producer (producer/src/spool.cc) does the same.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import stat
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Tuple

MAGIC = b"LWSPOOL1"
VERSION = 1
SUFFIX = ".spool"
TMP_SUFFIX = ".tmp"  # <name>.spool.tmp: a spool being created or rewritten
HEADER_SIZE = 40
FRAME_HEADER_SIZE = 16
MAX_IDENTITY_BYTES = 4096
_HEADER = struct.Struct("<8s I I Q q Q")
_PROGRESS = struct.Struct("<Q q Q")
_PROGRESS_AT = 16
_FRAME = struct.Struct("<I I Q")
_SEQUENCE = struct.Struct("<Q")
_MAX_RECORD_BYTES = 16 * 1024 * 1024
# Attempts at creating a .spool.tmp another producer took for a crash's garbage, which it
# deletes, at that very moment; 1 ms apart.
_CREATE_ATTEMPTS = 100
# Frames written per write() in a rewrite.
_REWRITE_CHUNK_BYTES = 1024 * 1024

_log = logging.getLogger("logwire")

Entry = Tuple[int, bytes]


class SpoolError(Exception):
    """A file that is not a spool this producer can replay."""


@dataclass
class SpoolContents:
    """What a spool file holds."""

    identity: bytes  # a ProducerIdentity FlatBuffer
    dropped: int = 0
    last_drop_ns: int = 0
    acknowledged: int = 0
    records: List[Entry] = field(default_factory=list)
    end: int = 0  # where the whole frames end (a torn or damaged tail follows)


def _padded(size: int) -> int:
    return (size + 7) & ~7


def file_name(service: str, instance_hex: str) -> str:
    """The file of one instance; the service part only makes the name readable."""
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', service[:64])}-{instance_hex}{SUFFIX}"


def encode_header(identity: bytes, dropped: int = 0, last_drop_ns: int = 0,
                  acknowledged: int = 0) -> bytes:
    """The header, the identity padded to 8 included."""
    if len(identity) > MAX_IDENTITY_BYTES:
        raise ValueError(f"a spool identity holds at most {MAX_IDENTITY_BYTES} bytes")
    head = _HEADER.pack(MAGIC, VERSION, len(identity), dropped, last_drop_ns, acknowledged)
    return head + identity + bytes(_padded(len(identity)) - len(identity))


def encode_frames(entries: Iterable[Entry]) -> bytes:
    """Frames for records, in the order given."""
    parts = []
    for sequence, record in entries:
        sequence_bytes = _SEQUENCE.pack(sequence)
        crc = zlib.crc32(record, zlib.crc32(sequence_bytes))
        parts.append(struct.pack("<II", len(record), crc))
        parts.append(sequence_bytes)
        parts.append(record)
        pad = -len(record) & 7
        if pad:
            parts.append(bytes(pad))
    return b"".join(parts)


def decode(data: bytes) -> SpoolContents:
    """Reads a whole spool file; raises SpoolError if its header is not one."""
    if len(data) < HEADER_SIZE:
        raise SpoolError(f"{len(data)} bytes, shorter than a header")
    magic, version, identity_size, dropped, last_drop_ns, acknowledged = \
        _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SpoolError("not a logwire spool (bad magic)")
    if version != VERSION:
        raise SpoolError(f"spool version {version}; this producer reads {VERSION}")
    at = HEADER_SIZE + _padded(identity_size)
    if identity_size > MAX_IDENTITY_BYTES or at > len(data):
        raise SpoolError(f"an identity of {identity_size} bytes does not fit")
    contents = SpoolContents(identity=bytes(data[HEADER_SIZE:HEADER_SIZE + identity_size]),
                             dropped=dropped, last_drop_ns=last_drop_ns,
                             acknowledged=acknowledged)
    previous = -1
    view = memoryview(data)
    while at + FRAME_HEADER_SIZE <= len(data):
        length, crc, sequence = _FRAME.unpack_from(data, at)
        stop = at + FRAME_HEADER_SIZE + length
        if length > _MAX_RECORD_BYTES or stop > len(data):
            break  # cut short
        if zlib.crc32(view[at + 8:stop]) != crc or sequence <= previous:
            break
        contents.records.append((sequence, bytes(view[at + FRAME_HEADER_SIZE:stop])))
        previous = sequence
        at += FRAME_HEADER_SIZE + _padded(length)
    contents.end = min(at, len(data))
    return contents


class SpoolFile:
    """An open, locked spool file.

    Thread-safety: none; a SpoolFile belongs to the session thread of its instance (it
    is created before that thread starts).
    """

    def __init__(self, path: str, fd: int, identity: bytes, end: int,
                 progress: Tuple[int, int, int] = (0, 0, 0)) -> None:
        self.path = path
        self._fd = fd
        self._identity = identity
        self._data_start = HEADER_SIZE + _padded(len(identity))
        self._end = end
        self.progress = progress  # (dropped, last_drop_ns, acknowledged) in the header

    @classmethod
    def create(cls, directory: str, name: str, identity: bytes) -> "SpoolFile":
        """A new, locked, empty spool file for a new instance: written as
        <name>.tmp, locked, then renamed to <name>. Raises OSError (FileExistsError when
        <name> exists)."""
        os.makedirs(directory, mode=0o700, exist_ok=True)
        path = os.path.join(directory, name)
        header = encode_header(identity)
        if os.path.lexists(path):  # 128 random bits: only a bug names an instance twice
            raise FileExistsError(errno.EEXIST, "a spool of this instance exists", path)
        fd = _create_locked(path, [header])
        return cls(path, fd, identity, len(header))

    @classmethod
    def claim(cls, path: str) -> Optional[Tuple["SpoolFile", SpoolContents]]:
        """Locks and reads the spool of an instance that is gone; None when its producer
        still lives, or the file is not a regular file of this user. Raises SpoolError
        (with the lock released) for a file that is not a spool this producer reads."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
                os.close(fd)
                return None
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return None
            raise
        if not _still_named(fd, path):
            # Renamed over (a rewrite) or deleted between our open and our lock: what we
            # locked is not the spool under that name.
            os.close(fd)
            return None
        try:
            contents = decode(_read_all(fd))
        except (SpoolError, OSError):
            os.close(fd)
            raise
        progress = (contents.dropped, contents.last_drop_ns, contents.acknowledged)
        return cls(path, fd, contents.identity, contents.end, progress), contents

    @property
    def size(self) -> int:
        """Bytes in the file."""
        return self._end

    @property
    def frame_bytes(self) -> int:
        """Bytes of frames, the header aside."""
        return self._end - self._data_start

    def append(self, entries: Iterable[Entry]) -> None:
        """Writes frames at the end."""
        data = encode_frames(entries)
        if data:
            _write_all(self._fd, data, self._end)
            self._end += len(data)

    def write_progress(self, dropped: int, last_drop_ns: int, acknowledged: int) -> None:
        """Rewrites the refusal count and time and the highest ACK in the header."""
        _write_all(self._fd, _PROGRESS.pack(dropped, last_drop_ns, acknowledged),
                   _PROGRESS_AT)
        self.progress = (dropped, last_drop_ns, acknowledged)

    def truncate(self) -> None:
        """Cuts the file back to its header: every record is acknowledged."""
        if self._end > self._data_start:
            os.ftruncate(self._fd, self._data_start)
            self._end = self._data_start

    def rewrite(self, entries: Iterable[Entry]) -> None:
        """Keeps only `entries`: the header and `entries` written to <path>.tmp (locked),
        renamed over the file, whose descriptor is then closed. A process killed before
        the rename leaves the file as it was (and a .tmp the next claim deletes)."""
        header = encode_header(self._identity, *self.progress)
        fd = _create_locked(self.path, _chunks(header, entries))
        old, self._fd = self._fd, fd
        self._end = os.fstat(fd).st_size
        os.close(old)

    def close(self, delete: bool) -> None:
        """Releases the lock; with `delete`, removes the file first (everything in it was
        delivered), otherwise the next producer replays what it holds."""
        if self._fd < 0:
            return
        if delete:
            _unlink_quietly(self.path)
        os.close(self._fd)
        self._fd = -1

    def abandon(self) -> None:
        """Forgets the file without touching the lock: in a forked child, whose parent
        still holds it through the same open file description."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def claim_orphans(directory: str, own_path: str) -> List[Tuple[SpoolFile, SpoolContents]]:
    """Every spool in `directory` whose producer is gone, locked and read. One that
    cannot be read is left where it is, with a warning. A .spool.tmp is never claimed:
    one that nobody holds was left by a crash and is deleted."""
    claimed = []
    try:
        names = sorted(os.listdir(directory))
    except OSError as error:
        _log.warning("logwire: cannot list spool directory %s: %s", directory, error)
        return claimed
    own = os.path.abspath(own_path)
    for name in names:
        path = os.path.join(directory, name)
        if name.endswith(SUFFIX + TMP_SUFFIX):
            _remove_if_abandoned(path)
            continue
        if not name.endswith(SUFFIX) or os.path.abspath(path) == own:
            continue
        try:
            found = SpoolFile.claim(path)
        except (SpoolError, OSError) as error:
            _log.warning("logwire: leaving %s alone: %s", path, error)
            continue
        if found is not None:
            claimed.append(found)
    return claimed


def _create_locked(path: str, chunks: Iterable[bytes]) -> int:
    """Writes `chunks` to a new <path>.tmp, created (O_EXCL, 0600) and flock'ed before
    anything is written, and renames it to `path`; returns its descriptor, locked. On
    failure nothing is left behind, and `path` is as it was."""
    tmp = path + TMP_SUFFIX
    fd = _open_locked_tmp(tmp)
    try:
        at = 0
        for chunk in chunks:
            _write_all(fd, chunk, at)
            at += len(chunk)
        os.rename(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        os.close(fd)
        raise
    return fd


def _open_locked_tmp(tmp: str) -> int:
    """A new, empty, locked <name>.spool.tmp. A producer listing the directory between
    our open and our flock may take it for a crash's garbage and delete it; then we
    create it again."""
    for attempt in range(_CREATE_ATTEMPTS):
        last = attempt + 1 == _CREATE_ATTEMPTS
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC |
                         os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            # Being deleted by such a producer, or left by a crash of this instance.
            if last:
                raise
            _remove_if_abandoned(tmp)
            time.sleep(0.001)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # that producer holds it, and deletes it
            if last:
                raise
            time.sleep(0.001)
            continue
        except BaseException:
            os.close(fd)
            raise
        if os.fstat(fd).st_nlink == 0:  # deleted before we locked it
            os.close(fd)
            continue
        return fd
    raise OSError(errno.EAGAIN, "cannot create a spool file", tmp)


def _still_named(fd: int, path: str) -> bool:
    """True when `path` still names the file open as `fd` (checked once it is locked)."""
    try:
        opened, named = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return opened.st_nlink > 0 and (opened.st_dev, opened.st_ino) == \
        (named.st_dev, named.st_ino)


def _remove_if_abandoned(path: str) -> None:
    """Deletes a .spool.tmp whose lock can be taken: its producer died creating or
    rewriting its spool. A locked one is being written; it is left alone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # held: a producer is writing it
        if _still_named(fd, path):
            _unlink_quietly(path)
    finally:
        os.close(fd)


def _chunks(header: bytes, entries: Iterable[Entry]) -> Iterable[bytes]:
    """The header, then frames in pieces of about _REWRITE_CHUNK_BYTES."""
    yield header
    batch: List[Entry] = []
    size = 0
    for entry in entries:
        batch.append(entry)
        size += len(entry[1]) + FRAME_HEADER_SIZE
        if size >= _REWRITE_CHUNK_BYTES:
            yield encode_frames(batch)
            batch, size = [], 0
    if batch:
        yield encode_frames(batch)


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    chunks = []
    at = 0
    while at < size:
        chunk = os.pread(fd, size - at, at)
        if not chunk:
            break
        chunks.append(chunk)
        at += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        if written <= 0:
            raise OSError(errno.EIO, "short write")
        view = view[written:]
        offset += written


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
