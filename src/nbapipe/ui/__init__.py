"""The live backfill dashboard (`nbapipe serve --ui`): a read-only page and JSON API over the
state store. api.py answers, server.py serves, static/ holds the page and its script."""
