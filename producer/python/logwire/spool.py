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
queue's bound (a process killed in between loses those records from the spool, never
duplicates them). Nothing is fsync'd: a spool survives the process, not the machine.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import stat
import struct
import zlib
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Tuple

MAGIC = b"LWSPOOL1"
VERSION = 1
SUFFIX = ".spool"
HEADER_SIZE = 40
FRAME_HEADER_SIZE = 16
MAX_IDENTITY_BYTES = 4096
_HEADER = struct.Struct("<8s I I Q q Q")
_PROGRESS = struct.Struct("<Q q Q")
_PROGRESS_AT = 16
_FRAME = struct.Struct("<I I Q")
_SEQUENCE = struct.Struct("<Q")
_MAX_RECORD_BYTES = 16 * 1024 * 1024

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

    def __init__(self, path: str, fd: int, data_start: int, end: int,
                 progress: Tuple[int, int, int] = (0, 0, 0)) -> None:
        self.path = path
        self._fd = fd
        self._data_start = data_start
        self._end = end
        self.progress = progress  # (dropped, last_drop_ns, acknowledged) in the header

    @classmethod
    def create(cls, directory: str, name: str, identity: bytes) -> "SpoolFile":
        """A new, locked, empty spool file for a new instance."""
        os.makedirs(directory, mode=0o700, exist_ok=True)
        path = os.path.join(directory, name)
        header = encode_header(identity)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.pwrite(fd, header, 0)
        except BaseException:
            os.close(fd)
            _unlink_quietly(path)
            raise
        return cls(path, fd, len(header), len(header))

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
        try:
            contents = decode(_read_all(fd))
        except (SpoolError, OSError):
            os.close(fd)
            raise
        data_start = HEADER_SIZE + _padded(len(contents.identity))
        progress = (contents.dropped, contents.last_drop_ns, contents.acknowledged)
        return cls(path, fd, data_start, contents.end, progress), contents

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
        """Keeps only `entries`: cut to the header, written again."""
        self._end = self._data_start
        os.ftruncate(self._fd, self._data_start)
        self.append(entries)

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
    cannot be read is left where it is, with a warning."""
    claimed = []
    try:
        names = sorted(os.listdir(directory))
    except OSError as error:
        _log.warning("logwire: cannot list spool directory %s: %s", directory, error)
        return claimed
    own = os.path.abspath(own_path)
    for name in names:
        path = os.path.join(directory, name)
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
