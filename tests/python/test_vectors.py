"""tests/vectors: envelopes as bytes beside their decoded JSON, shared by every
implementation. Every .bin must decode to its .json exactly, and this package's writer
must turn every .json into an envelope that decodes to the same JSON."""

from __future__ import annotations

import glob
import importlib.util
import json
import os

import pytest

from conftest import REPO_ROOT
from logwire.wire_json import envelope_from_dict, envelope_to_dict

VECTORS_DIR = os.environ.get("LOGWIRE_VECTORS_DIR") or os.path.join(REPO_ROOT, "tests",
                                                                    "vectors")
NAMES = sorted(os.path.basename(path)[:-len(".bin")]
               for path in glob.glob(os.path.join(VECTORS_DIR, "*.bin")))


def load(name: str):
    with open(os.path.join(VECTORS_DIR, name + ".bin"), "rb") as f:
        body = f.read()
    with open(os.path.join(VECTORS_DIR, name + ".json"), encoding="utf-8") as f:
        form = json.load(f)
    return body, form


def test_the_python_vectors_are_there():
    assert {"python-basic", "python-fields"} <= set(NAMES), VECTORS_DIR


@pytest.mark.parametrize("name", NAMES)
def test_every_vector_decodes_to_its_json(name):
    body, form = load(name)
    assert envelope_to_dict(body) == form


@pytest.mark.parametrize("name", NAMES)
def test_the_writer_encodes_every_vector_to_the_same_json(name):
    _, form = load(name)
    assert envelope_to_dict(envelope_from_dict(form)) == form


def test_the_committed_python_vectors_are_what_the_script_writes_now():
    spec = importlib.util.spec_from_file_location(
        "make_python_vectors", os.path.join(VECTORS_DIR, "make_python_vectors.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for name, form in script.vectors().items():
        body, committed = load(name)
        assert committed == form, name
        assert envelope_from_dict(form) == body, name
