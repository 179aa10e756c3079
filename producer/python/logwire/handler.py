"""logwire.Handler: the standard logging module's records, streamed to the broker."""

from __future__ import annotations

import logging
import traceback
from typing import Any, Optional

from .levels import from_logging
from .producer import Producer

# Every attribute a LogRecord has of its own; anything else on a record came from
# `extra=` (or a filter) and becomes a field.
_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__) | {
        "message", "asctime", "taskName"}


class Handler(logging.Handler):
    """Sends every record it handles to a logwire Producer.

    emit() never blocks on the broker: the producer queues the record. Levels map as
    DEBUG, INFO, WARNING, ERROR -> DEBUG, INFO, WARN, ERROR, CRITICAL -> FATAL, anything
    below DEBUG -> TRACE. The message is record.getMessage() (no Formatter: the agent
    gets the structure, not a line of text); `extra=` keys become typed fields;
    exc_info and stack_info become the stack trace; IDs come from request_context().
    Records of the "logwire" logger itself are skipped, so the producer's own warnings
    can never feed back into it.
    """

    def __init__(self, producer: Optional[Producer] = None, *,
                 service: Optional[str] = None, level: int = logging.NOTSET,
                 **producer_options: Any) -> None:
        """Uses `producer`, or opens one for `service` (with `producer_options`, see
        Producer) that the handler then owns and closes."""
        super().__init__(level)
        if producer is None:
            if not service:
                raise ValueError("Handler needs a producer or a service name")
            producer = Producer(service, **producer_options)
            self._owns_producer = True
        else:
            self._owns_producer = False
        self.producer = producer

    def emit(self, record: logging.LogRecord) -> None:
        """Queues the record; never raises (a failure is counted by the producer)."""
        name = record.name
        if name == "logwire" or name.startswith("logwire."):
            return
        try:
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - bad %-arguments must not lose the record
                message = f"{record.msg!r} % {record.args!r}"
            fields = {key: value for key, value in record.__dict__.items()
                      if key not in _STANDARD_ATTRIBUTES}
            stack_trace = None
            if record.exc_info and record.exc_info[0] is not None:
                stack_trace = "".join(traceback.format_exception(*record.exc_info))
            elif record.exc_text:
                stack_trace = record.exc_text
            if record.stack_info:
                stack_trace = (stack_trace + "\n" if stack_trace else "") + record.stack_info
            self.producer.log(from_logging(record.levelno), message, fields=fields or None,
                              stack_trace=stack_trace,
                              timestamp_ns=int(record.created * 1_000_000) * 1000)
        except Exception:  # noqa: BLE001
            self.handleError(record)

    def flush(self) -> None:
        """Waits (up to the producer's flush_timeout) for the broker's acknowledgements."""
        self.producer.flush()

    def close(self) -> None:
        """Closes the producer too if the handler opened it."""
        try:
            if self._owns_producer:
                self.producer.close()
        finally:
            super().close()
