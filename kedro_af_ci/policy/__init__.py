"""The trust boundary in CI (docs/architecture.md, "Trust")."""
