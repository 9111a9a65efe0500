"""Shared builders for the tests (support modules, not tests)."""
