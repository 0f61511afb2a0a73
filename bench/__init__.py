"""Benchmarks. They print figures; they are never part of the test suite."""
