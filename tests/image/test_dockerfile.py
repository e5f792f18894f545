"""Which Dockerfiles allow a code-only deploy: init's does; anything that puts more than the build
context's copy in the top layer, or that the layers below it read from unnamed files, does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from kedro_af_ci.image.dockerfile import NotCodeOnly, code_copy, instructions
from kedro_af_ci.render.templating import environment

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project


def init_dockerfile(requirements: str | None = "requirements.txt") -> bytes:
    template = environment().get_template("project/Dockerfile.j2")
    return template.render(project_name="Demo", version="0", requirements=requirements).encode()


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "requirements.txt").write_text("kedro\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "nodes.py").write_text("X = 1\n")
    return tmp_path


def test_inits_dockerfile_ends_with_the_code(context):
    copy = code_copy(init_dockerfile(), context, [])
    assert (copy.dest, copy.chown) == ("/home/kedro", "999:0")
    assert code_copy(init_dockerfile(), context, ["KEDRO_UID=1001"]).chown == "1001:0"


def test_the_inputs_are_what_the_layers_below_the_code_read(context):
    inputs = code_copy(init_dockerfile(), context, []).inputs
    (context / "src" / "nodes.py").write_text("X = 2\n")
    assert code_copy(init_dockerfile(), context, []).inputs == inputs  # the code is the top layer's
    (context / "requirements.txt").write_text("kedro\npandas\n")
    changed = code_copy(init_dockerfile(), context, []).inputs
    assert changed != inputs
    assert code_copy(init_dockerfile(), context, ["BASE_IMAGE=python:3.12-slim"]).inputs != changed
    (context / ".dockerignore").write_text("data/\n")
    assert code_copy(init_dockerfile(), context, []).inputs != changed


@pytest.mark.parametrize(("dockerfile", "reason"), [
    (init_dockerfile(requirements=None), "last layer is not a COPY"),
    (b"FROM a AS build\nRUN make\nFROM b\nCOPY . /app\n", "more than one stage"),
    (b"FROM a\nCOPY *.txt /tmp/\nCOPY . /home/kedro\n", "not a named file or folder"),
    (b"FROM a\nADD https://example.com/x /x\nCOPY . /home/kedro\n", "not a named file or folder"),
    (b"FROM a\nCOPY --from=other /x /x\nCOPY . /home/kedro\n", "reads another image"),
    (b"FROM a\nCOPY src /home/kedro/src\n", "not the whole build context"),
    (b"FROM a\nCOPY --chmod=755 . /home/kedro\n", "--chmod"),
    (b"FROM a\nCOPY --chown=kedro . /home/kedro\n", "not numeric"),
    # ids Docker reads from where this does not: an ENV, a multi-name ARG, an ARG without a value
    (b"FROM a\nENV UID=999\nCOPY --chown=${UID}:0 . /home/kedro\n", "uses \\$UID, which no single-name ARG"),
    (b"FROM a\nARG UID GID\nCOPY --chown=${UID}:${GID} . /home/kedro\n", "uses \\$UID"),
    (b"FROM a\nARG UID\nCOPY --chown=$UID . /home/kedro\n", "uses \\$UID"),
    (b"FROM a\nWORKDIR $HOME\nCOPY . .\n", "WORKDIR uses a variable"),
    (b"# syntax=docker/dockerfile:1\nFROM a\nCOPY . /home/kedro\n", "parser directive"),
    (b"FROM a\nRUN <<EOF\necho\nEOF\nCOPY . /home/kedro\n", "heredoc"),
    (b"FROM a\nCOPY ../secrets /s\nCOPY . /home/kedro\n", "outside the build context"),
])
def test_anything_else_is_refused_with_the_reason(context, dockerfile, reason):
    with pytest.raises(NotCodeOnly, match=reason):
        code_copy(dockerfile, context, [])


def test_continuations_and_comments():
    text = "FROM a\n# c\nRUN one \\\n  # inside\n  two\nCOPY . /x\n"
    assert instructions(text) == [("FROM", "a"), ("RUN", "one two"), ("COPY", ". /x")]


def test_the_destination_follows_workdir(context):
    copy = code_copy(b"FROM a\nWORKDIR /srv\nWORKDIR app\nCOPY . ./\n", context, [])
    assert copy.dest == "/srv/app"
