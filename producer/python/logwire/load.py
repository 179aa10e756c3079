"""Logs records at a steady rate, for load and kill tests:

    python3 -m logwire.load --endpoint tcp://127.0.0.1:PORT --service NAME \\
        --count N --rate R [--spool-dir D]

logs N records (fields `seq` 0..N-1 and `thread` 0) at R records/s, then flushes and
closes, and prints "done <n> dropped <d>": n records queued, d dropped by this instance.
It rides out a broker that disappears and comes back (the producer reconnects and
replays); the exit status is 0 when everything queued was acknowledged, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional

from .levels import Level
from .producer import Producer


def _arguments(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 -m logwire.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", help="broker endpoint (default $LOGWIRE_ENDPOINT, "
                        "else tcp://127.0.0.1:7717)")
    parser.add_argument("--service", required=True, help="service name")
    parser.add_argument("--count", type=int, required=True, help="records to log")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="records per second (0: as fast as possible)")
    parser.add_argument("--spool-dir", help="spool directory (records survive a restart)")
    parser.add_argument("--queue-bytes", type=int, default=64 * 1024 * 1024,
                        help="queue bound in bytes")
    parser.add_argument("--reconnect-max", type=float, default=30.0,
                        help="longest wait between connection attempts, seconds")
    parser.add_argument("--flush-timeout", type=float, default=60.0,
                        help="how long to wait for the broker at the end, seconds")
    parser.add_argument("--message-bytes", type=int, default=26, help="message length")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the load; the exit status says whether everything was delivered."""
    options = _arguments(argv)
    producer = Producer(options.service, endpoint=options.endpoint,
                        queue_bytes=options.queue_bytes, spool_dir=options.spool_dir,
                        reconnect_max=options.reconnect_max,
                        flush_timeout=options.flush_timeout)
    message = "load record from thread 0"
    message += "." * max(0, options.message_bytes - len(message))
    queued = 0
    start = time.monotonic()
    for seq in range(options.count):
        if options.rate > 0:
            # Paced against the start, so a stall is caught up rather than lost.
            delay = start + seq / options.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        if producer.log(Level.INFO, message, fields={"seq": seq, "thread": 0}):
            queued += 1
    delivered = producer.close()
    print(f"done {queued} dropped {producer.dropped}", flush=True)
    return 0 if delivered else 1


if __name__ == "__main__":
    sys.exit(main())
