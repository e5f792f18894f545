"""The compile pipeline, Git to Verify, for the CLI and the action alike (docs/architecture.md): pipeline.py
runs the stages, project.py reads a project's identity and DAG id without Kedro. ``kedro_af_ci.compiler``
keeps its public names."""

from .pipeline import CompileRequest, CompileResult, compile_dag, default_output, load_graph

__all__ = ["CompileRequest", "CompileResult", "compile_dag", "default_output", "load_graph"]
