"""Orchestration: the backfill runner, the event bus and the phase orchestrators."""
