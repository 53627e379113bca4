"""Phase 5 prediction systems and grading."""
