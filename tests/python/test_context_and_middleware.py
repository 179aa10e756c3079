"""request_context: nesting and isolation across threads and asyncio tasks; the ASGI
and WSGI middleware that set it from request headers."""

from __future__ import annotations

import asyncio
import threading

import pytest

import logwire
from logwire import RequestContext, current_request, request_context
from logwire.middleware import ASGIMiddleware, WSGIMiddleware, clean_id
from logwire.wire_json import record_to_dict

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_nested_contexts_inherit_and_restore():
    assert current_request() is None
    with request_context(request_id="req-1", traceparent=TRACEPARENT):
        with request_context(span_id="span-2") as inner:
            assert inner == RequestContext("req-1", TRACEPARENT, "span-2")
            assert current_request() == inner
        assert current_request() == RequestContext("req-1", TRACEPARENT, None)
    assert current_request() is None


def test_threads_do_not_see_each_others_context():
    barrier = threading.Barrier(3)
    seen = {}

    def serve(name: str) -> None:
        with request_context(request_id=name):
            barrier.wait()
            seen[name] = current_request().request_id
            barrier.wait()

    threads = [threading.Thread(target=serve, args=(f"req-{i}",)) for i in range(3)]
    with request_context(request_id="main"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert current_request().request_id == "main"
    assert seen == {"req-0": "req-0", "req-1": "req-1", "req-2": "req-2"}


def test_asyncio_tasks_do_not_see_each_others_context():
    async def serve(name: str, delay: float) -> list:
        seen = []
        with request_context(request_id=name):
            for _ in range(3):
                await asyncio.sleep(delay)
                seen.append(current_request().request_id)
        return seen

    async def main() -> list:
        return await asyncio.gather(serve("a", 0.001), serve("b", 0.0015), serve("c", 0))

    assert asyncio.run(main()) == [["a"] * 3, ["b"] * 3, ["c"] * 3]


def logged(producer: logwire.Producer) -> list:
    return [record_to_dict(buf) for _, buf in producer._queue.snapshot(0)]


def test_log_takes_ids_from_the_context_unless_given(producers):
    producer = logwire.Producer("ctx", endpoint="tcp://127.0.0.1:9", reconnect_max=0.1)
    producers.append(producer)
    with request_context(request_id="req-ctx", traceparent=TRACEPARENT, span_id="s-ctx"):
        producer.log("INFO", "from context")
        producer.log("INFO", "explicit", request_id="req-own", span_id="")
    producer.log("INFO", "outside")
    first, second, third = logged(producer)
    assert (first["requestId"], first["traceparent"], first["spanId"]) == (
        "req-ctx", TRACEPARENT, "s-ctx")
    assert (second["requestId"], second["traceparent"], second["spanId"]) == (
        "req-own", TRACEPARENT, "")
    assert (third["requestId"], third["traceparent"], third["spanId"]) == ("", "", "")


# --- middleware --------------------------------------------------------------------------

def test_clean_id_trims_caps_and_empties():
    assert clean_id("  req-1 \t") == "req-1"
    assert clean_id("x" * 300) == "x" * 256
    assert clean_id("   ") is None and clean_id(None) is None


def asgi_app(seen: list):
    async def app(scope, receive, send):
        seen.append(current_request())
        return "answered"
    return app


@pytest.mark.parametrize("kind", ["http", "websocket"])
def test_asgi_sets_the_ids_from_headers_for_the_request(kind):
    seen: list = []
    middleware = ASGIMiddleware(asgi_app(seen))
    scope = {"type": kind, "headers": [
        (b"host", b"localhost"), (b"X-Request-ID", b"  req-42  "),
        (b"traceparent", TRACEPARENT.encode()), (b"x-request-id", b"second-ignored")]}
    assert asyncio.run(middleware(scope, None, None)) == "answered"
    assert seen == [RequestContext("req-42", TRACEPARENT, None)]
    assert current_request() is None


def test_asgi_caps_long_headers_and_passes_other_scopes_through():
    seen: list = []
    middleware = ASGIMiddleware(asgi_app(seen))
    asyncio.run(middleware({"type": "http", "headers": [(b"x-request-id", b"r" * 1000)]},
                           None, None))
    asyncio.run(middleware({"type": "lifespan"}, None, None))
    asyncio.run(middleware({"type": "http"}, None, None))
    assert seen[0].request_id == "r" * 256
    assert seen[1] is None
    assert seen[2] == RequestContext(None, None, None)


def test_asgi_requests_in_one_loop_stay_apart():
    async def app(scope, receive, send):
        await asyncio.sleep(0.001)
        return current_request().request_id

    middleware = ASGIMiddleware(app)

    async def main():
        return await asyncio.gather(*(
            middleware({"type": "http", "headers": [(b"x-request-id", f"r{i}".encode())]},
                       None, None) for i in range(5)))

    assert asyncio.run(main()) == [f"r{i}" for i in range(5)]


def test_wsgi_sets_the_ids_while_the_app_runs_and_the_response_is_iterated():
    seen = []

    class Body:
        closed_in = None

        def __iter__(self):
            seen.append(("first chunk", current_request()))
            yield b"a"
            seen.append(("second chunk", current_request()))
            yield b"b"

        def close(self):
            Body.closed_in = current_request()

    def app(environ, start_response):
        seen.append(("app", current_request()))
        start_response("200 OK", [])
        return Body()

    middleware = WSGIMiddleware(app)
    environ = {"HTTP_X_REQUEST_ID": " req-w ", "HTTP_TRACEPARENT": TRACEPARENT}
    response = middleware(environ, lambda status, headers: None)
    assert current_request() is None
    assert list(response) == [b"a", b"b"]
    response.close()
    expected = RequestContext("req-w", TRACEPARENT, None)
    assert seen == [("app", expected), ("first chunk", expected), ("second chunk", expected)]
    assert Body.closed_in == expected
    assert current_request() is None
