"""The isolated child that reads the project (action/isolated.py) leaves nothing behind: the modules it
unpacks go when the job ends, on success and on failure."""

from __future__ import annotations

import pytest

from kedro_af_ci.errors import GraphError
from kedro_af_ci.image.isolated import ChildRunner, run_job


@pytest.mark.parametrize("pipeline", ["__default__", "no_such_pipeline"])
def test_the_child_removes_what_it_unpacked(example_repo, tmp_path, monkeypatch, pipeline):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))  # the child's tempfile folder (child_environment keeps it)
    runner = ChildRunner(example_repo[0])
    if pipeline == "__default__":
        graph = run_job(runner, "graph", {"pipeline": pipeline, "env": None}, GraphError)
        assert graph["pipeline"] == "__default__" and graph["nodes"]
    else:
        with pytest.raises(GraphError, match="no_such_pipeline"):
            run_job(runner, "graph", {"pipeline": pipeline, "env": None}, GraphError)
    assert [p.name for p in scratch.iterdir() if p.name.startswith("kedro-af-ci-")] == []
