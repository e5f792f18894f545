"""The graph stage: a Kedro project read into a PipelineGraph (docs/architecture.md, "Graph")."""
