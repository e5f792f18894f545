"""Extract the pipeline graph inside the freshly built project image (ARCHITECTURE.md §2).

The action's container lacks the user's dependencies; the project image has them but not this
tool. So the few modules extraction needs travel to the image as a zip on ``python -``'s stdin:
no bind mount (the Docker engine is the runner's, and would not see this container's files), no
network, nothing installed in the image. The graph comes back on stdout after a marker line, so
whatever the project prints while it is imported cannot corrupt it.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import zipfile
from pathlib import Path

from ..errors import GraphError
from ..pipeline_graph import PipelineGraph
from .docker import Docker

log = logging.getLogger(__name__)

GRAPH_MARKER = "@@kedro-af-ci-graph@@"
ERROR_MARKER = "@@kedro-af-ci-error@@"
_PACKAGE = Path(__file__).resolve().parent.parent
_MODULES = ("__init__.py", "errors.py", "pipeline_graph.py", "graph.py", "templates/kedro_logging.yml")

_BOOTSTRAP = '''\
import base64, io, sys, tempfile, zipfile
folder = tempfile.mkdtemp(prefix="kedro-af-ci-")
zipfile.ZipFile(io.BytesIO(base64.b64decode(PAYLOAD))).extractall(folder)
sys.path.insert(0, folder)
from kedro_af_ci.action.graph_in_image_main import main
sys.exit(main(sys.argv[1:]))
'''

_MAIN = '''\
"""Runs inside the project image: print the graph (or one error line) after a marker."""
import argparse, os, sys
from pathlib import Path

def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipeline", default="__default__")
    parser.add_argument("--env", default=None)
    args = parser.parse_args(argv)
    real_stdout, sys.stdout = sys.stdout, sys.stderr  # the project's prints go to stderr
    from kedro_af_ci.errors import KafError
    try:
        from kedro_af_ci.graph import extract_graph
        graph = extract_graph(Path.cwd(), args.pipeline, args.env)
    except KafError as exc:
        real_stdout.write("\\n%s %s\\n" % ("''' + ERROR_MARKER + '''", exc))
        return 4
    except Exception as exc:  # the project failed to import: report it as a graph error
        real_stdout.write("\\n%s %s: %s\\n" % ("''' + ERROR_MARKER + '''", type(exc).__name__, exc))
        return 4
    real_stdout.write("\\n''' + GRAPH_MARKER + '''\\n" + graph.to_json() + "\\n")
    return 0
'''


def bootstrap_script() -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in _MODULES:
            archive.write(_PACKAGE / relative, f"kedro_af_ci/{relative}")
        archive.writestr("kedro_af_ci/action/__init__.py", "")
        archive.writestr("kedro_af_ci/action/graph_in_image_main.py", _MAIN)
    payload = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"PAYLOAD = {payload!r}\n" + _BOOTSTRAP


def parse_output(stdout: str, stderr: str, returncode: int, image: str) -> PipelineGraph:
    for marker in (ERROR_MARKER,):
        for line in stdout.splitlines():
            if line.startswith(marker):
                raise GraphError(f"in image {image}: {line[len(marker):].strip()}")
    _, found, text = stdout.partition(f"\n{GRAPH_MARKER}\n")
    if returncode != 0 or not found:
        tail = "\n".join(stderr.strip().splitlines()[-10:])
        raise GraphError(f"graph extraction in image {image} failed (exit code {returncode})"
                         + (f":\n{tail}" if tail else ""))
    try:
        return PipelineGraph.from_dict(json.loads(text))
    except ValueError as exc:
        raise GraphError(f"graph extraction in image {image} printed no valid graph: {exc}") from None


def extract_in_image(docker: Docker, image: str, *, project_path: str, pipeline: str,
                     env: str | None) -> PipelineGraph:
    args = ["--pipeline", pipeline] + (["--env", env] if env else [])
    proc = docker.run_python(image, bootstrap_script(), args, workdir=project_path,
                             env={"KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1",
                                  "PYTHONDONTWRITEBYTECODE": "1"})
    return parse_output(proc.stdout or "", proc.stderr or "", proc.returncode, image)
