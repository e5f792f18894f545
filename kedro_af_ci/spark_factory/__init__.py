"""Stage Spark factory (docs/architecture.md, "Layout"): a project's custom Spark operator factory applied to
the plan (apply.py), and its request and answer across the project image's boundary (wire.py)."""
