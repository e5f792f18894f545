"""What a code-only deploy may reuse the graph across, against real Python: a small package is
"extracted" (imported under graph/trace.py's recording, in a child interpreter, as in the project
image), then changed in one way; the inputs' digest must stay the same exactly when the change
cannot alter what the extraction produced. Each case also runs the extraction again on the changed
files, so a digest that stayed the same while the graph changed fails here."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kedro_af_ci.image.graph_inputs import GraphInputs, LayerFile, record

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

PACKAGE = {
    "pkg/__init__.py": "",
    "pkg/nodes.py": '''
        import functools

        def tagged(func):
            @functools.wraps(func)
            def wrapper(*args):
                return func(*args)
            return wrapper

        def clean(x, factor=1):
            """Cleans."""
            return x + factor

        @tagged
        def train(x):
            return x * 2

        class Model:
            def fit(self, x):
                return x

            def name(self):
                return "model"
        ''',
    "pkg/pipeline.py": '''
        from pathlib import Path
        from pkg.nodes import Model, clean, train

        PARAMS = (Path(__file__).parent.parent / "conf" / "params.yml").read_text().strip()

        def create_pipeline():
            def label(func):
                return func.__name__ + ":" + PARAMS
            return [label(clean), label(train), Model().name()]

        GRAPH = create_pipeline()
        ''',
    "conf/params.yml": "alpha",
    "README.md": "a readme",
}

EXTRACT = '''
import json, sys
from pathlib import Path
sys.path.insert(0, {tool!r})
sys.path.insert(0, str(Path.cwd()))
from kedro_af_ci.graph.trace import recording
with recording(Path.cwd()) as trace:
    import pkg.pipeline
print(json.dumps({{"graph": pkg.pipeline.GRAPH, "trace": trace.to_dict()}}))
'''


def write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))


def extract(root: Path) -> tuple[list, dict]:
    tool = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-c", EXTRACT.format(tool=tool)], cwd=root, capture_output=True,
                         text=True, check=True, env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"})
    answer = json.loads(out.stdout)
    return answer["graph"], answer["trace"]


def layer(root: Path) -> dict[str, LayerFile]:
    return {p.relative_to(root).as_posix(): LayerFile("file", p.stat().st_mode & 0o7777, p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def before(tmp_path_factory) -> tuple[list, GraphInputs, str]:
    root = tmp_path_factory.mktemp("before")
    write(root, PACKAGE)
    graph, trace = extract(root)
    inputs = record(trace, layer(root))
    assert inputs is not None
    return graph, inputs, inputs.digest(layer(root))


def edit(path: str, old: str, new: str) -> dict[str, str]:
    text = textwrap.dedent(PACKAGE[path])
    assert old in text
    return {**PACKAGE, path: text.replace(old, new)}


SAME_GRAPH = {
    "a body that never ran": edit("pkg/nodes.py", "return x + factor", "return (x + factor) * 10"),
    "a decorated body that never ran": edit("pkg/nodes.py", "return x * 2", "y = x * 3\n    return y"),
    "a method that never ran": edit("pkg/nodes.py", "def fit(self, x):\n        return x",
                                    "def fit(self, x):\n        return -x"),
    "a wrapper's body that never ran": edit("pkg/nodes.py", "return func(*args)", "return func(*args) + 0"),
    "a comment and blank lines": edit("pkg/pipeline.py", "GRAPH =", "\n# the graph\n\nGRAPH ="),
    "a file never opened": {**PACKAGE, "README.md": "another readme"},
}

OTHER_GRAPH = {
    "a body that ran": edit("pkg/pipeline.py", "Model().name()]", "Model().name(), 'extra']"),
    "a method that ran": edit("pkg/nodes.py", 'return "model"', 'return "forest"'),
    "a nested function that ran": edit("pkg/pipeline.py", 'func.__name__ + ":"', 'func.__name__ + "="'),
    "a function's name": {**edit("pkg/nodes.py", "def train(x)", "def fit_model(x)"),
                          "pkg/pipeline.py": textwrap.dedent(PACKAGE["pkg/pipeline.py"]).replace("train", "fit_model")},
    "a file opened": {**PACKAGE, "conf/params.yml": "beta"},
}

OTHER_INPUTS = {  # the graph happens to stay, but the change is in what ran, so nothing is reused
    "a default argument": edit("pkg/nodes.py", "factor=1", "factor=2"),
    "a module-level statement": edit("pkg/nodes.py", "import functools", "import functools\nLIMIT = 3"),
    "a decorator's body": edit("pkg/nodes.py", "    return wrapper", "    wrapper.kind = 'node'\n    return wrapper"),
    "a docstring of a function that never ran": edit("pkg/nodes.py", '"""Cleans."""', '"""Cleans it."""'),
    "a new file": {**PACKAGE, "pkg/extra.py": "X = 1"},
}


@pytest.mark.parametrize("case", sorted(SAME_GRAPH))
def test_a_change_the_extraction_never_saw_keeps_the_digest(before, tmp_path, case):
    graph, inputs, digest = before
    write(tmp_path, SAME_GRAPH[case])
    assert inputs.digest(layer(tmp_path)) == digest
    assert extract(tmp_path)[0] == graph  # and indeed the graph is the same


@pytest.mark.parametrize("case", sorted(OTHER_GRAPH))
def test_a_change_that_alters_the_graph_changes_the_digest(before, tmp_path, case):
    graph, inputs, digest = before
    write(tmp_path, OTHER_GRAPH[case])
    assert extract(tmp_path)[0] != graph  # reusing the graph here would deploy a stale DAG
    assert inputs.digest(layer(tmp_path)) != digest


@pytest.mark.parametrize("case", sorted(OTHER_INPUTS))
def test_a_change_in_what_ran_changes_the_digest(before, tmp_path, case):
    _, inputs, digest = before
    write(tmp_path, OTHER_INPUTS[case])
    assert inputs.digest(layer(tmp_path)) != digest


def test_a_mode_change_changes_the_digest(before, tmp_path):
    _, inputs, digest = before
    write(tmp_path, PACKAGE)
    (tmp_path / "README.md").chmod(0o755)
    assert inputs.digest(layer(tmp_path)) != digest


def test_the_uncalled_functions_are_named_by_where_they_are_defined(before):
    _, inputs, _ = before
    assert inputs.modules["pkg/nodes.py"] == ("tagged.wrapper", "clean", "train", "Model.fit")
    assert inputs.modules["pkg/pipeline.py"] == ()
    assert inputs.opened == ("conf/params.yml",)
    assert GraphInputs.from_dict(json.loads(json.dumps(inputs.to_dict()))) == inputs


@pytest.mark.parametrize("trace", [None, [], {"called": "x", "opened": [], "imported": [], "unseen": []},
                                   {"called": [["a.py", "1"]], "opened": [], "imported": [], "unseen": []},
                                   {"called": [], "opened": [1], "imported": [], "unseen": []},
                                   {"called": [], "opened": [], "imported": ["outside.py"], "unseen": []},
                                   {"called": [], "opened": [], "imported": []}])
def test_a_malformed_trace_records_nothing(trace):
    """The trace comes from the branch's code: anything but the expected shape means no reuse."""
    assert record(trace, {"a.py": LayerFile("file", 0o644, b"X = 1")}) is None


def test_a_module_that_does_not_parse_gives_no_digest():
    inputs = GraphInputs(opened=(), modules={"a.py": ()})
    assert inputs.digest({"a.py": LayerFile("file", 0o644, b"def (")}) is None


UNSEEN = {
    # the graph comes from a file a child process reads: the audit hook of this interpreter never sees it
    "a process": edit("pkg/pipeline.py",
                      'PARAMS = (Path(__file__).parent.parent / "conf" / "params.yml").read_text().strip()',
                      'import subprocess, sys\nPARAMS = subprocess.run([sys.executable, "-c", "print(open('
                      '\'conf/params.yml\').read().strip())"], capture_output=True, text=True).stdout.strip()'),
    # project code that takes the profile hook over: the functions that ran afterwards are not recorded
    "the profile hook replaced": edit("pkg/pipeline.py", "from pathlib import Path",
                                      "import sys\nsys.setprofile(None)\nfrom pathlib import Path"),
}


@pytest.mark.parametrize("case", sorted(UNSEEN))
def test_an_extraction_the_trace_cannot_see_into_is_no_basis_for_reuse(tmp_path, case):
    write(tmp_path / "one", UNSEEN[case])
    graph, trace = extract(tmp_path / "one")
    assert trace["unseen"] and record(trace, layer(tmp_path / "one")) is None
    # without the defence: the digest of what the trace saw stays when the graph's input changes
    blind = record({**trace, "unseen": []}, layer(tmp_path / "one"))
    assert blind is not None
    write(tmp_path / "two", {**UNSEEN[case], "conf/params.yml": "beta"})
    if case == "a process":
        assert extract(tmp_path / "two")[0] != graph and blind.digest(layer(tmp_path / "two")) == \
            blind.digest(layer(tmp_path / "one"))  # a stale graph would have been reused
