"""The Python producer against the real logwire-broker (from LOGWIRE_BIN_DIR), asked
through `logwire query` what an agent would see."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys

import logwire
from conftest import wait_for

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def records_of(broker, service: str) -> list:
    """The service's own records, the broker's notes about it left out."""
    return [log for log in broker.query(service)["logs"]
            if log.get("fields", {}).get("event") not in ("connected", "disconnected",
                                                           "dropped")]


def seqs_of(broker, service: str) -> list:
    return sorted(log["fields"]["seq"] for log in records_of(broker, service))


def test_a_record_reaches_the_agent_with_every_field(real_broker, producers):
    producer = logwire.Producer("py-api", endpoint=real_broker.endpoint)
    producers.append(producer)
    with logwire.request_context(request_id="req-12345", traceparent=TRACEPARENT,
                                 span_id="span-789"):
        assert producer.log("ERROR", "Payment gateway timeout — ünïcode",
                            fields={"gateway": "stripe", "timeoutMs": 5000,
                                    "retryable": True, "ratio": 0.25,
                                    "big": 2**64, "none": None},
                            stack_trace="PaymentGatewayTimeout: ...\n  at charge()")
    assert producer.flush(10)
    log, = records_of(real_broker, "py-api")
    assert log["service"] == "py-api" and log["level"] == "ERROR"
    assert log["message"] == "Payment gateway timeout — ünïcode"
    assert log["requestId"] == "req-12345"
    assert log["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert log["spanId"] == "span-789"
    assert log["fields"] == {"gateway": "stripe", "timeoutMs": 5000, "retryable": True,
                             "ratio": 0.25, "big": str(2**64), "none": "None"}
    assert log["stackTrace"] == "PaymentGatewayTimeout: ...\n  at charge()"
    notes = [n for n in real_broker.query("py-api")["logs"]
             if n.get("fields", {}).get("event") == "connected"]
    assert notes and notes[0]["fields"]["language"] == "python"


def test_the_logging_handler_end_to_end(real_broker):
    handler = logwire.Handler(service="py-handler", endpoint=real_broker.endpoint)
    logger = logging.getLogger("test_real_broker.handler")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        with logwire.request_context(request_id="req-h"):
            logger.info("charging %s", "card", extra={"amount": 12.5, "userId": 987})
            try:
                raise TimeoutError("gateway")
            except TimeoutError:
                logger.exception("charge failed")
        assert handler.producer.flush(10)
    finally:
        logger.removeHandler(handler)
        handler.close()
    info, error = records_of(real_broker, "py-handler")
    assert (info["level"], info["message"], info["requestId"]) == ("INFO", "charging card",
                                                                  "req-h")
    assert info["fields"] == {"amount": 12.5, "userId": 987}
    assert error["level"] == "ERROR" and "TimeoutError: gateway" in error["stackTrace"]
    assert any(n.get("fields", {}).get("event") == "disconnected"
               for n in real_broker.query("py-handler")["logs"])


def test_a_killed_and_restarted_broker_loses_and_duplicates_nothing(real_broker, producers):
    producer = logwire.Producer("py-kill", endpoint=real_broker.endpoint,
                                reconnect_max=0.5)
    producers.append(producer)
    for n in range(100):
        producer.log("INFO", f"before {n}", fields={"seq": n})
    assert producer.flush(10)
    real_broker.kill(signal.SIGKILL)
    for n in range(100, 200):
        producer.log("INFO", f"while killed {n}", fields={"seq": n})
    real_broker.start()
    for n in range(200, 250):
        producer.log("INFO", f"after {n}", fields={"seq": n})
    assert producer.flush(15)
    assert seqs_of(real_broker, "py-kill") == list(range(250))
    assert producer.dropped == 0


def test_drops_reach_the_agent(real_broker, producers):
    real_broker.kill(signal.SIGKILL)
    producer = logwire.Producer("py-drops", endpoint=real_broker.endpoint,
                                queue_bytes=20_000, reconnect_max=0.3)
    producers.append(producer)
    for n in range(1000):
        producer.log("INFO", f"record {n:04d}", fields={"seq": n})
    dropped = producer.dropped
    assert 0 < dropped < 1000
    real_broker.start()
    assert producer.flush(15)
    assert seqs_of(real_broker, "py-drops") == list(range(dropped, 1000))
    notes = [n for n in real_broker.query("py-drops")["logs"]
             if n.get("fields", {}).get("event") == "dropped"]
    assert sum(n["fields"]["dropped"] for n in notes) == dropped


def test_the_load_tool_survives_a_broker_kill(real_broker):
    process = subprocess.Popen(
        [sys.executable, "-m", "logwire.load", "--endpoint", real_broker.endpoint,
         "--service", "py-load", "--count", "900", "--rate", "1000",
         "--reconnect-max", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: records_of(real_broker, "py-load"), 10, 0.1)
        real_broker.kill(signal.SIGKILL)
        real_broker.start()
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert out == "done 900 dropped 0\n"
    # (query shows at most 1000 records: the 900 and the broker's notes fit)
    assert seqs_of(real_broker, "py-load") == list(range(900))


def test_a_spool_outlives_a_backend_that_dies_while_the_broker_is_away(real_broker,
                                                                      tmp_path, producers):
    real_broker.kill(signal.SIGKILL)
    script = ("import logwire, os, sys, time\n"
              "p = logwire.Producer('py-spool', endpoint=sys.argv[1], spool_dir=sys.argv[2],"
              " reconnect_max=0.2)\n"
              "for n in range(30): p.log('WARN', f'spooled {n}', fields={'seq': n})\n"
              "time.sleep(0.3)\n"
              "os._exit(9)\n")
    done = subprocess.run([sys.executable, "-c", script, real_broker.endpoint,
                           str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 9, done.stderr
    real_broker.start()
    producer = logwire.Producer("py-spool", endpoint=real_broker.endpoint,
                                spool_dir=str(tmp_path), reconnect_max=0.2)
    producers.append(producer)
    assert wait_for(lambda: seqs_of(real_broker, "py-spool") == list(range(30)), 15, 0.1)
    assert wait_for(lambda: os.listdir(tmp_path) == [os.path.basename(producer.spool_path)],
                    5)
