"""The plan stage: PipelineGraph + PluginConfig → DagPlan, pure (docs/architecture.md, "Plan")."""
