"""Writes the Python producer's shared test vectors: tests/vectors/python-*.{bin,json}.

Each .bin is an Envelope as the Python producer's writer lays it out; each .json is its
decoded form (see logwire.wire_json). Every implementation's tests decode every vector
and compare; tests/python/test_vectors.py also checks that these files are what this
script writes now. Run from the repository root after a build:

    PYTHONPATH=producer/python:build/producer/python/generated \\
        /usr/bin/python3 tests/vectors/make_python_vectors.py
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict

from logwire.wire_json import envelope_from_dict, envelope_to_dict

HERE = os.path.dirname(os.path.abspath(__file__))
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def _record(**values: Any) -> Dict[str, Any]:
    record = {"timestampNs": 0, "level": "INFO", "service": "", "message": "",
              "requestId": "", "traceparent": "", "spanId": "", "fields": [],
              "stackTrace": ""}
    record.update(values)
    return record


def vectors() -> Dict[str, Dict[str, Any]]:
    """Every vector's decoded form, by name."""
    return {
        "python-basic": {
            "producer": {"service": "api-server", "host": "dev-box", "pid": 4242,
                         "instanceId": {"hi": 0x0123456789ABCDEF, "lo": 0xFEDCBA9876543210},
                         "language": "python", "libraryVersion": "0.1.0"},
            "firstSequence": 0, "dropped": 0, "lastDropNs": 0, "acknowledged": 0,
            "records": [
                _record(timestampNs=1_769_854_523_456_000_000, level="INFO",
                        message="GET /api/payments 200"),
                _record(timestampNs=1_769_854_523_506_000_001, level="ERROR",
                        message="Payment gateway timeout", requestId="req-12345",
                        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                        spanId="span-789",
                        fields=[{"key": "gateway", "kind": "string", "value": "stripe"},
                                {"key": "timeoutMs", "kind": "int", "value": 5000},
                                {"key": "retryable", "kind": "bool", "value": True}]),
            ],
        },
        "python-fields": {
            "producer": None,
            "firstSequence": 41, "dropped": 3, "lastDropNs": 1_769_854_500_000_000_007,
            "acknowledged": 40,
            "records": [
                _record(timestampNs=1, level="TRACE", service="billing-worker",
                        message="Grüße, 世界 — naïve café ☕ 😀",
                        requestId="req-ü", traceparent="not a valid traceparent",
                        spanId="span-∞",
                        fields=[{"key": "int64_max", "kind": "int", "value": INT64_MAX},
                                {"key": "int64_min", "kind": "int", "value": INT64_MIN},
                                {"key": "zero", "kind": "int", "value": 0},
                                {"key": "negative", "kind": "double", "value": -2.5},
                                {"key": "tiny", "kind": "double", "value": 5e-324},
                                {"key": "huge", "kind": "double",
                                 "value": 1.7976931348623157e308},
                                {"key": "whole", "kind": "double", "value": 3.0},
                                {"key": "yes", "kind": "bool", "value": True},
                                {"key": "no", "kind": "bool", "value": False},
                                {"key": "empty", "kind": "string", "value": ""},
                                {"key": "", "kind": "string", "value": "empty key"},
                                {"key": "ключ", "kind": "string", "value": "значение 🚀"}],
                        stackTrace=("Traceback (most recent call last):\n"
                                    "  File \"app.py\", line 12, in charge\n"
                                    "    gateway.charge(card)\n"
                                    "TimeoutError: gateway did not answer in 5000 ms\n")),
                _record(timestampNs=INT64_MAX, level="FATAL"),
                _record(timestampNs=INT64_MIN, level="WARN", message="m",
                        fields=[{"key": "k", "kind": "string", "value": "v"}]),
                _record(timestampNs=-1, level="DEBUG", message="\t tabs,\nnewlines\r\n"),
            ],
        },
    }


def main() -> None:
    """Writes every vector and checks it decodes back to its form."""
    for name, form in vectors().items():
        body = envelope_from_dict(form)
        assert envelope_to_dict(body) == form, name
        with open(os.path.join(HERE, name + ".bin"), "wb") as out:
            out.write(body)
        with open(os.path.join(HERE, name + ".json"), "w", encoding="utf-8") as out:
            json.dump(form, out, indent=2, ensure_ascii=False)
            out.write("\n")
        print(f"{name}: {len(body)} bytes, {len(form['records'])} records")


if __name__ == "__main__":
    main()
