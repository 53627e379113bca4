"""Validation and monitoring: coverage, preflight, verify, checks, monitor, report."""
