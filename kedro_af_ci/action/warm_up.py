"""Run once while the action image is built: compile a small DAG in every execution mode, pre-flight
included, so that exactly the modules an action run imports are byte-compiled into the image.

Byte-compiling every installed package would add about 170 MB to the image; compiling none would
make every run compile Airflow's imports again (seconds of cold start). This compiles what is used.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

CONFIG = """\
host: http://127.0.0.1:8080
output: dags
run_config:
  image: registry.example.com/warm-up:latest
  execution: {execution}
  macro_params: [ds]
  failure_handlers: [{{type: slack, connection_id: slack}}]
  external_dependencies: [{{dag_id: upstream}}]
  secrets: [{{deploy_type: env, deploy_target: TOKEN, secret: s, key: k}}]
  resources: {{__default__: {{requests: {{cpu: "1"}}, limits: {{memory: 1Gi}}}}}}
"""


def main() -> int:
    import kedro_af_ci.action.main
    import kedro_af_ci.deliver.client
    import kedro_af_ci.deliver.deploy  # noqa: F401
    from kedro_af_ci.compiler.pipeline import CompileRequest, compile_dag
    from kedro_af_ci.graph.model import DatasetInfo, GraphNode, PipelineGraph, ProjectInfo

    graph = PipelineGraph(
        project=ProjectInfo(package_name="warm_up", project_name="Warm up"), pipeline="__default__",
        nodes=(GraphNode(name="a", inputs=("x",), outputs=("y",)), GraphNode(name="b", inputs=("y",), outputs=("z",))),
        datasets={name: DatasetInfo(type="pandas.CSVDataset") for name in "xyz"},
    )
    with tempfile.TemporaryDirectory(prefix="kaf-warm-up-") as folder:
        project = Path(folder)
        (project / "pyproject.toml").write_text('[tool.kedro]\npackage_name = "warm_up"\nproject_name = "Warm up"\n')
        (project / "graph.json").write_text(graph.to_json())
        conf = project / "conf" / "base"
        conf.mkdir(parents=True)
        for execution in ("kubernetes", "docker", "local"):
            (conf / "airflow-k8s.yaml").write_text(CONFIG.format(execution=execution))
            result = compile_dag(CompileRequest(project_path=project, graph_file=project / "graph.json"))
            print(f"warm-up: {execution}: {len(result.plan.tasks)} tasks, pre-flight checked "
                  f"{result.verification.checked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
