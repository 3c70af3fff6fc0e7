"""Pure domain model: standard library only (enforced by import-linter)."""
