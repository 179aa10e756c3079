"""logwire.Handler: the logging module's records as logwire records."""

from __future__ import annotations

import logging

import pytest

import logwire
from logwire.levels import Level


class RecordingProducer:
    """Stands in for a Producer: keeps what log() was called with."""

    def __init__(self) -> None:
        self.calls = []
        self.flushed = 0

    def log(self, level, message, **kwargs):
        self.calls.append((level, message, kwargs))
        return True

    def flush(self, timeout=None):
        self.flushed += 1
        return True


@pytest.fixture
def recorded():
    producer = RecordingProducer()
    handler = logwire.Handler(producer)
    logger = logging.getLogger("test_handler.app")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    yield logger, producer
    logger.removeHandler(handler)


def test_extra_becomes_typed_fields_and_levels_map(recorded):
    logger, producer = recorded
    logger.warning("payment %s took %d ms", "pay-1", 5000,
                   extra={"userId": 987, "retryable": True, "ratio": 0.5, "gateway": "stripe"})
    (level, message, kwargs), = producer.calls
    assert level is Level.WARN
    assert message == "payment pay-1 took 5000 ms"
    assert kwargs["fields"] == {"userId": 987, "retryable": True, "ratio": 0.5,
                                "gateway": "stripe"}
    assert kwargs["stack_trace"] is None
    assert abs(kwargs["timestamp_ns"] / 1e9 - __import__("time").time()) < 5


@pytest.mark.parametrize("method, level", [
    ("debug", Level.DEBUG), ("info", Level.INFO), ("warning", Level.WARN),
    ("error", Level.ERROR), ("critical", Level.FATAL)])
def test_each_logging_level(recorded, method, level):
    logger, producer = recorded
    getattr(logger, method)("m")
    assert producer.calls[0][0] is level


def test_exc_info_becomes_the_stack_trace(recorded):
    logger, producer = recorded
    try:
        {}["missing"]
    except KeyError:
        logger.exception("lookup failed")
    (level, message, kwargs), = producer.calls
    assert level is Level.ERROR and message == "lookup failed"
    trace = kwargs["stack_trace"]
    assert trace.startswith("Traceback (most recent call last):")
    assert "KeyError: 'missing'" in trace and "test_exc_info_becomes_the_stack_trace" in trace
    assert kwargs["fields"] is None


def test_stack_info_is_appended(recorded):
    logger, producer = recorded
    logger.info("where am I", stack_info=True)
    assert "Stack (most recent call last)" in producer.calls[0][2]["stack_trace"]


def test_bad_format_arguments_still_log(recorded):
    logger, producer = recorded
    logger.error("%d items", "not a number")
    assert "%d items" in producer.calls[0][1]


def test_the_logwire_logger_is_not_fed_back(recorded):
    _, producer = recorded
    handler = logwire.Handler(producer)
    for name in ("logwire", "logwire.producer"):
        handler.handle(logging.LogRecord(name, logging.WARNING, __file__, 1, "x", (), None))
    handler.handle(logging.LogRecord("logwirex", logging.WARNING, __file__, 1, "y", (), None))
    assert [call[1] for call in producer.calls] == ["y"]


def test_flush_reaches_the_producer(recorded):
    logger, producer = recorded
    logger.handlers[0].flush()
    assert producer.flushed == 1


def test_a_handler_needs_a_producer_or_a_service():
    with pytest.raises(ValueError):
        logwire.Handler()


def test_an_owned_producer_carries_context_ids_and_closes_with_the_handler():
    handler = logwire.Handler(service="owned", endpoint="tcp://127.0.0.1:9",
                              flush_timeout=0.1, reconnect_max=0.1)
    logger = logging.getLogger("test_handler.owned")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        with logwire.request_context(request_id="req-h", span_id="span-h"):
            logger.error("inside", extra={"n": 1})
    finally:
        logger.removeHandler(handler)
    from logwire.wire_json import record_to_dict
    (_, buf), = handler.producer._queue.snapshot(0)
    record = record_to_dict(buf)
    assert (record["message"], record["level"], record["requestId"], record["spanId"]) == (
        "inside", "ERROR", "req-h", "span-h")
    assert record["fields"] == [{"key": "n", "kind": "int", "value": 1}]
    handler.close()
    assert handler.producer.log("INFO", "after close") is False
