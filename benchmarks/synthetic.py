"""Synthetic Kedro 1.x projects of N nodes: layered random DAGs with namespaces and tags.

Deterministic for a given N (fixed seed), so two runs measure the same project.
"""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

from kedro_af_ci.graph.model import PipelineGraph


def layered_edges(n: int, seed: int = 7) -> list[list[int]]:
    """inputs[i] = indices of earlier nodes feeding node i (1-3 of them, from recent layers)."""
    rng = random.Random(seed * 1000 + n)
    width = max(4, int(n**0.5))
    inputs: list[list[int]] = []
    for i in range(n):
        layer = i // width
        if layer == 0:
            inputs.append([])
            continue
        start = max(0, (layer - 2) * width)
        candidates = range(start, layer * width)
        inputs.append(sorted(rng.sample(candidates, k=min(len(candidates), rng.randint(1, 3)))))
    return inputs


def write_project(root: Path, n: int) -> Path:
    """A runnable Kedro project at ``root`` whose __default__ pipeline has ``n`` nodes."""
    package = root / "src" / "bench"
    package.mkdir(parents=True, exist_ok=True)
    (root / "conf" / "base").mkdir(parents=True, exist_ok=True)
    (root / "conf" / "local").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "bench"
        version = "0.1"
        dynamic = []

        [tool.kedro]
        package_name = "bench"
        project_name = "bench"
        kedro_init_version = "1.0.0"
        source_dir = "src"
        """))
    (root / "conf" / "base" / "catalog.yml").write_text(
        '"{name}":\n  type: pickle.PickleDataset\n  filepath: data/{name}.pkl\n')
    (root / "conf" / "base" / "parameters.yml").write_text("{}\n")
    (root / "conf" / "base" / "airflow-k8s.yaml").write_text(textwrap.dedent("""\
        host: https://airflow.example.com
        output: dags
        run_config:
          image: registry.example.com/bench:1
          run_name: bench
          start_date: "20240101"
          volume:
            disabled: true
          resources:
            __default__:
              requests: {cpu: 500m, memory: 1Gi}
            huge:
              requests: {cpu: "8", memory: 64Gi}
        """))
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text("")
    (package / "nodes.py").write_text("def step(*args):\n    return 0\n")
    rows = []
    width = max(4, int(n**0.5))
    layers = (n + width - 1) // width
    for i, ins in enumerate(layered_edges(n)):
        tags = ["resources.huge"] if i % 17 == 0 else []
        # contiguous blocks of layers per namespace: Kedro 1.x warns about interleaved namespaces
        namespace = f"stage{(i // width) * 8 // layers}"
        rows.append(f"    ({i}, {[f'd{j}' for j in ins]!r}, {tags!r}, {namespace!r}),")
    (package / "pipeline_registry.py").write_text(
        "from kedro.pipeline import Pipeline, node\n\nfrom .nodes import step\n\nNODES = [\n" + "\n".join(rows)
        + "\n]\n\n\ndef register_pipelines():\n"
        "    nodes = [node(step, inputs or None, f'd{i}', name=f'n{i}', tags=tags, namespace=ns)\n"
        "             for i, inputs, tags, ns in NODES]\n"
        "    return {'__default__': Pipeline(nodes)}\n")
    return root


def graph_edges(graph: PipelineGraph) -> list[list[int]]:
    """inputs[i] for a real project's graph (`kedro-af-ci export-graph`): the nodes feeding node i."""
    index = {node.name: i for i, node in enumerate(graph.nodes)}
    dependencies = graph.node_dependencies()
    return [sorted(index[name] for name in dependencies[node.name]) for node in graph.nodes]


def floor_dag(n: int, path: Path, edges: list[list[int]] | None = None) -> Path:
    """Hand-written DAG: the same number of KubernetesPodOperators and edges, nothing else."""
    lines = [
        "import pendulum",
        "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator",
        "from airflow.sdk import DAG",
        "",
        "with DAG('floor', schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:",
        "    t = {}",
        f"    for i in range({n}):",
        "        t[i] = KubernetesPodOperator(task_id=f'n{i}', name=f'n{i}', image='registry.example.com/bench:1',",
        "                                     cmds=['kedro'], arguments=['run', '--nodes', f'ns.n{i}'])",
        "    EDGES = [",
    ]
    for i, ins in enumerate(edges if edges is not None else layered_edges(n)):
        lines += [f"        ({j}, {i})," for j in ins]
    lines += ["    ]", "    for a, b in EDGES:", "        t[a] >> t[b]", ""]
    path.write_text("\n".join(lines))
    return path
