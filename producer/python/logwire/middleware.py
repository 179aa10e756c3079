"""Middleware that puts an incoming request's correlation IDs into request_context()
for as long as the request is served, so every record logged meanwhile carries them.

The IDs are taken from the `X-Request-ID` and `traceparent` headers, trimmed and cut to
256 characters (a header is the client's text: it must not bloat every record).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Optional

from .context import request_context

MAX_ID_LENGTH = 256


def clean_id(value: Optional[str]) -> Optional[str]:
    """A header value fit to be an ID: trimmed, at most 256 characters; None if empty."""
    if value is None:
        return None
    value = value.strip()[:MAX_ID_LENGTH]
    return value or None


class ASGIMiddleware:
    """Wraps an ASGI application; http and websocket scopes get the request's IDs,
    every other scope (lifespan, ...) passes through untouched."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> Any:
        if scope.get("type") not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        request_id = traceparent = None
        for name, value in scope.get("headers") or ():
            name = name.lower()
            if name == b"x-request-id" and request_id is None:
                request_id = value.decode("latin-1")
            elif name == b"traceparent" and traceparent is None:
                traceparent = value.decode("latin-1")
        with request_context(request_id=clean_id(request_id),
                             traceparent=clean_id(traceparent)):
            return await self.app(scope, receive, send)


class WSGIMiddleware:
    """Wraps a WSGI application; the IDs hold while it runs and while the server
    iterates its response, which is where a streaming response does its work."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request_id = clean_id(environ.get("HTTP_X_REQUEST_ID"))
        traceparent = clean_id(environ.get("HTTP_TRACEPARENT"))
        with request_context(request_id=request_id, traceparent=traceparent):
            response = self.app(environ, start_response)
        return _ResponseInContext(response, request_id, traceparent)


class _ResponseInContext:
    """A WSGI response iterable whose iteration and close() run in the request's IDs."""

    def __init__(self, response: Iterable[bytes], request_id: Optional[str],
                 traceparent: Optional[str]) -> None:
        self._response = response
        self._iterator: Optional[Iterator[bytes]] = None
        self._ids = {"request_id": request_id, "traceparent": traceparent}

    def __iter__(self) -> "_ResponseInContext":
        return self

    def __next__(self) -> bytes:
        with request_context(**self._ids):
            if self._iterator is None:
                self._iterator = iter(self._response)
            return next(self._iterator)

    def close(self) -> None:
        """Passes the server's close() on, as PEP 3333 requires."""
        close = getattr(self._response, "close", None)
        if close is not None:
            with request_context(**self._ids):
                close()
