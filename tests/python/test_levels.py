"""Levels: logwire's six, Python logging's, names."""

from __future__ import annotations

import logging

import pytest

from logwire.levels import Level, coerce, from_logging, parse


@pytest.mark.parametrize("levelno, level", [
    (logging.NOTSET, Level.TRACE),
    (5, Level.TRACE),
    (logging.DEBUG, Level.DEBUG),
    (15, Level.DEBUG),
    (logging.INFO, Level.INFO),
    (25, Level.INFO),
    (logging.WARNING, Level.WARN),
    (logging.ERROR, Level.ERROR),
    (45, Level.ERROR),
    (logging.CRITICAL, Level.FATAL),
    (100, Level.FATAL),
])
def test_python_logging_levels_map_to_the_lower_neighbour(levelno, level):
    assert from_logging(levelno) is level


def test_wire_values_are_the_schemas():
    from logwire.wire.Level import Level as WireLevel
    assert [(level.name, level.value) for level in Level] == [
        ("TRACE", WireLevel.Trace), ("DEBUG", WireLevel.Debug), ("INFO", WireLevel.Info),
        ("WARN", WireLevel.Warn), ("ERROR", WireLevel.Error), ("FATAL", WireLevel.Fatal)]


@pytest.mark.parametrize("text, level", [
    ("trace", Level.TRACE), ("DEBUG", Level.DEBUG), (" Info ", Level.INFO),
    ("warn", Level.WARN), ("warning", Level.WARN), ("error", Level.ERROR),
    ("fatal", Level.FATAL), ("critical", Level.FATAL), ("nonsense", None), ("", None),
])
def test_names_parse_case_insensitively(text, level):
    assert parse(text) is level


@pytest.mark.parametrize("given, level", [
    (Level.WARN, Level.WARN), (0, Level.TRACE), (5, Level.FATAL),
    (logging.INFO, Level.INFO), (logging.ERROR, Level.ERROR), ("error", Level.ERROR),
    ("bogus", Level.INFO), (-3, Level.INFO), (None, Level.INFO), (2.5, Level.INFO),
])
def test_what_log_accepts_as_a_level(given, level):
    assert coerce(given) is level
