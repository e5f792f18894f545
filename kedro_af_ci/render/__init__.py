"""The render stage: DagPlan → DAG source (docs/architecture.md, "Render")."""
