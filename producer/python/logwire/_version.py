"""The library version a producer reports in its identity (the CMake project's)."""

__version__ = "0.1.0"
