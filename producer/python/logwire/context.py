"""The request a piece of code is serving, as context: every record logged inside
``request_context(...)`` carries its IDs unless the call names its own.

A contextvars.ContextVar keeps it, so it follows the code, not the thread: each thread
starts without one, and each asyncio task sees the context it was created in, so
concurrent requests in one event loop never see each other's IDs.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Iterator, Optional


@dataclass(frozen=True)
class RequestContext:
    """Correlation IDs of the request being served; None where unknown."""

    request_id: Optional[str] = None
    traceparent: Optional[str] = None
    span_id: Optional[str] = None


_current: contextvars.ContextVar[Optional[RequestContext]] = contextvars.ContextVar(
    "logwire_request_context", default=None)


def current_request() -> Optional[RequestContext]:
    """The innermost request_context in effect, or None."""
    return _current.get()


@contextlib.contextmanager
def request_context(request_id: Optional[str] = None, traceparent: Optional[str] = None,
                    span_id: Optional[str] = None) -> Iterator[RequestContext]:
    """Attaches these IDs to every record logged inside the block.

    Nested blocks inherit what they do not set themselves (a span inside a request keeps
    the request's ID), and the outer IDs are back when the block ends.
    """
    outer = _current.get()
    if outer is not None:
        request_id = outer.request_id if request_id is None else request_id
        traceparent = outer.traceparent if traceparent is None else traceparent
        span_id = outer.span_id if span_id is None else span_id
    context = RequestContext(request_id, traceparent, span_id)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
