"""Severity levels: logwire's six, and how Python's logging levels and names map onto them."""

from __future__ import annotations

import enum
import logging
from typing import Union


class Level(enum.IntEnum):
    """Severity, lowest first; the values are the wire values (schema Level)."""

    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4
    FATAL = 5


_NAMES = {
    "TRACE": Level.TRACE,
    "DEBUG": Level.DEBUG,
    "INFO": Level.INFO,
    "WARN": Level.WARN,
    "WARNING": Level.WARN,
    "ERROR": Level.ERROR,
    "FATAL": Level.FATAL,
    "CRITICAL": Level.FATAL,
}

LevelLike = Union[Level, int, str]


def from_logging(levelno: int) -> Level:
    """Maps a Python logging level onto logwire's.

    A level between two standard ones (a custom level) takes the lower of the two, so
    nothing is promoted above what the application meant.
    """
    if levelno < logging.DEBUG:
        return Level.TRACE
    if levelno < logging.INFO:
        return Level.DEBUG
    if levelno < logging.WARNING:
        return Level.INFO
    if levelno < logging.ERROR:
        return Level.WARN
    if levelno < logging.CRITICAL:
        return Level.ERROR
    return Level.FATAL


def parse(text: str) -> Level | None:
    """A level name, case-insensitive ("warning" and "critical" as other libraries spell
    them); None when the text names no level."""
    return _NAMES.get(text.strip().upper())


def coerce(level: LevelLike) -> Level:
    """What Producer.log accepts as a level, as a Level.

    An int from 0 to 5 is a logwire Level; a larger int is a Python logging level
    (logging.INFO is 20). A name is parsed. Anything unrecognised is INFO, as the schema
    reads an unknown level, because a log call must not fail over its level.
    """
    if isinstance(level, int):
        if 0 <= level <= Level.FATAL:
            return Level(level)
        return from_logging(level) if level > 0 else Level.INFO
    if isinstance(level, str):
        return parse(level) or Level.INFO
    return Level.INFO
