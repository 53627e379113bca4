"""nbapipe: a backfill-safe NBA player-points props pipeline."""
__version__ = "0.1.0"
