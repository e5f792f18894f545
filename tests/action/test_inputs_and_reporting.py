"""Inputs from INPUT_* variables, image references, and what the reporters write."""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT
from test_entrypoint import parse_github_output

from kedro_af_ci.action.ci import GitHubReporter, GitLabReporter, Reporter, detect
from kedro_af_ci.action.inputs import ActionInputs
from kedro_af_ci.action.summary import SummaryData, mermaid_label, render_summary
from kedro_af_ci.deliver.answers import TaskInstanceInfo
from kedro_af_ci.errors import ConfigError
from kedro_af_ci.image.docker import image_ref, registry_of


def test_every_input_of_action_yml_is_read_with_its_default():
    declared = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    inputs = ActionInputs.from_environ({})
    fields = set(ActionInputs.__dataclass_fields__)
    assert {name.replace("-", "_") for name in declared} == fields
    assert inputs.run_once is False and inputs.wait is True and inputs.build is True
    assert inputs.wait_timeout == float(declared["wait-timeout"]["default"])
    assert inputs.pipeline == declared["pipeline"]["default"]


def test_hyphenated_and_underscored_spellings():
    github = ActionInputs.from_environ({"INPUT_PROJECT-PATH": "sub/project", "INPUT_RUN-ONCE": "TRUE"})
    gitlab = ActionInputs.from_environ({"INPUT_PROJECT_PATH": "sub/project", "INPUT_RUN_ONCE": "true"})
    assert github == gitlab and github.project_path == "sub/project" and github.run_once


@pytest.mark.parametrize(("env", "key"), [
    ({"INPUT_RUN-ONCE": "sure"}, "input run-once"),
    ({"INPUT_WAIT-TIMEOUT": "soon"}, "input wait-timeout"),
    ({"INPUT_POLL-INTERVAL": "0"}, "input poll-interval"),
    ({"INPUT_GROUP-BY": "colour"}, "input group-by"),
    ({"INPUT_ENV": "../prod"}, "input env"),
    ({"INPUT_BUILD-ARGS": "not an assignment"}, "input build-args"),
])
def test_bad_inputs_name_the_input(env, key):
    with pytest.raises(ConfigError) as err:
        ActionInputs.from_environ(env)
    assert err.value.key == key and err.value.exit_code == 3


def test_secrets_come_from_inputs_or_environment():
    inputs = ActionInputs.from_environ({"INPUT_REGISTRY-PASSWORD": "p", "AIRFLOW_API_TOKEN": "t"})
    assert inputs.secrets == ["p", "t"]


@pytest.mark.parametrize(("image", "ref"), [
    ("ghcr.io/acme/sf", "ghcr.io/acme/sf:abc"),
    ("localhost:5000/sf", "localhost:5000/sf:abc"),
    ("localhost:5000/sf:v1", "localhost:5000/sf:v1"),
    ("sf@sha256:" + "0" * 64, "sf@sha256:" + "0" * 64),
])
def test_image_ref_tags_with_the_commit_unless_tagged(image, ref):
    assert image_ref(image, "abc") == ref


@pytest.mark.parametrize("image", ["ghcr.io/Acme/sf", "sf:$(id)", "sf latest", "ghcr.io/acme/sf:", ""])
def test_bad_image_refs_are_config_errors(image):
    with pytest.raises(ConfigError):
        image_ref(image, "abc")


def test_registry_of():
    assert registry_of("europe-docker.pkg.dev/p/r/sf:1") == "europe-docker.pkg.dev"
    assert registry_of("acme/sf:1") == "docker.io"
    assert registry_of("localhost:5000/sf:1") == "localhost:5000"


def test_github_outputs_survive_multiline_and_delimiter_like_values(tmp_path):
    out = tmp_path / "out"
    reporter = GitHubReporter({"GITHUB_OUTPUT": str(out)})
    values = {"a": "line1\nline2", "b": "EOF\nkaf_0000\n", "c": "x=y<<z"}
    for key, value in values.items():
        reporter.set_output(key, value)
    parsed = parse_github_output(out)
    assert parsed == {"a": "line1\nline2", "b": "EOF\nkaf_0000\n", "c": "x=y<<z"}


def test_github_annotations_escape_their_properties(capsys):
    GitHubReporter({}).error("bad\nvalue 100%", file="conf/a,b:c.yaml", line=3, title="t: x")
    assert capsys.readouterr().out == "::error file=conf/a%2Cb%3Ac.yaml,line=3,title=t%3A x::bad%0Avalue 100%25\n"


def test_gitlab_dotenv_is_one_line_per_output(tmp_path):
    reporter = GitLabReporter({"CI_PROJECT_DIR": str(tmp_path)})
    reporter.set_output("dag-id", "sf")
    reporter.set_output("branch-name", "a\nb")
    reporter.finish()
    assert (tmp_path / "kedro-airflow-k8s.env").read_text() == "KAF_DAG_ID=sf\nKAF_BRANCH_NAME=a b\n"


def test_detect():
    assert isinstance(detect({"GITHUB_ACTIONS": "true"}), GitHubReporter)
    assert isinstance(detect({"GITLAB_CI": "true"}), GitLabReporter)
    assert type(detect({})) is Reporter


def test_summary_renders_hostile_values_as_text():
    hostile = 'x|y <img src=x onerror=alert(1)> `code` [link](http://e) *b* "q"'
    data = SummaryData(ok=False, dag_id="sf", branch_name=hostile, commit_id="c", error=hostile, exit_code=8,
                       tasks=["a", hostile], edges=[("a", hostile)],
                       task_states=[TaskInstanceInfo(hostile, "failed", try_number=1, duration=1.0)])
    text = render_summary(data)
    before, _, after = text.partition("<pre>")
    body, _, rest = after.partition("</pre>")
    assert "<" not in body and "&lt;img" in body  # raw text inside <pre>, where Markdown does not apply
    for part in (before, rest):
        assert "<img" not in part and "[link]" not in part and "`code`" not in part
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    diagram = text.split("```mermaid\n")[1].split("```")[0]
    assert f"t1[{mermaid_label(hostile)}]" in diagram and "class t1 bad" in diagram
    assert '"' not in mermaid_label(hostile)[1:-1] and "|" not in mermaid_label(hostile)
    for line in text.splitlines():
        if line.startswith("| ") and hostile.split("|")[0] in line:
            assert line.count("|") == line.count(" | ") + 2  # no extra column from the value's "|"


def test_summary_skips_huge_diagrams():
    tasks = [f"t{i}" for i in range(400)]
    text = render_summary(SummaryData(ok=True, dag_id="big", tasks=tasks))
    assert "mermaid" not in text and "400 tasks: too many to draw" in text


@pytest.mark.parametrize(("image", "placeholder"), [
    ("REGISTRY/spaceflights:abc", True), ("spaceflights:abc", True), ("spaceflights", True), ("", True),
    ("localhost:5000/spaceflights", False), ("localhost:5000/spaceflights:abc", False), ("acme/spaceflights", False),
    ("europe-docker.pkg.dev/acme/ml/app@sha256:" + "a" * 64, False),
])
def test_a_placeholder_image_is_told_from_a_real_repository(image, placeholder):
    from kedro_af_ci.action.steps.settings import _placeholder

    assert _placeholder(image) is placeholder
