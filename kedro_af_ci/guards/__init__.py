"""The trust guards (docs/architecture.md, "Trust"): whether a run is in CI, lines that print inert, YAML read
within bounds, secrets in every encoding they travel in, and which hosts count as this machine. Nothing here
imports another module of the package."""
