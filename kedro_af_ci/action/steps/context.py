"""What the steps share: the run's context, made from the inputs (secrets masked first), and a step's type."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import ConfigError
from ...image.docker import Docker
from ..ci import Reporter
from ..inputs import ActionInputs
from ..summary import SummaryData

if TYPE_CHECKING:
    from ...compiler.pipeline import CompileResult
    from ...config import PluginConfig
    from ...deliver.client import AirflowClient
    from ...gitinfo.commit import GitInfo
    from ...graph.model import PipelineGraph
    from ...image.isolated import Runner
    from ...policy.model import DeploymentPolicy
    from ..code_only import CodeState




log = logging.getLogger("kedro_af_ci")


@dataclass
class RunContext:
    """What the steps share. Made from the inputs; every later field is set by the step that owns it
    (reading one before that step ran is an AttributeError, not a silent default)."""

    inputs: ActionInputs
    environ: Mapping[str, str]
    reporter: Reporter
    summary: SummaryData
    workspace: Path
    project: Path
    git: GitInfo = field(init=False)  # read_git
    trusted_host: str = field(init=False)  # read_config: the host the workflow named ("" if none)
    host_source: str = field(init=False)
    policy: DeploymentPolicy = field(init=False)  # read_config: the workflow's settings
    config: PluginConfig = field(init=False)  # read_config; narrowed to the policy by apply_policy
    image: str = field(init=False)  # "" when there is none
    docker: Docker | None = field(init=False)  # build_image
    image_runs: bool = field(init=False)  # the image can host the project's code
    logged_in: bool = False  # to the registry, once
    code: CodeState | None = None  # build_image: this commit's code layer (code-only deploys)
    trace: object = None  # extract_graph: what the extraction ran and read, for the code-only record
    runner: Runner | None = field(init=False)  # extract_graph (None: the graph was reused)
    graph: PipelineGraph = field(init=False)
    result: CompileResult = field(init=False)  # compile_and_verify
    client: AirflowClient | None = field(init=False)  # connect_airflow

    @property
    def dag_id(self) -> str:
        return self.result.dag.dag_id

    def output(self, name: str, value: str) -> None:
        self.reporter.set_output(name, value)


def workspace_of(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("GITHUB_WORKSPACE") or environ.get("CI_PROJECT_DIR") or os.getcwd())


def read_inputs(environ: Mapping[str, str], reporter: Reporter, summary: SummaryData) -> RunContext:
    """The inputs, and the context made from them; secrets are masked before anything else is logged."""
    from ...guards.redact import forms

    inputs = ActionInputs.from_environ(environ)
    username = environ.get("AIRFLOW_USERNAME", "")
    for secret in [*inputs.secrets, environ.get("AIRFLOW_PASSWORD", ""), environ.get("GITLAB_SOURCE_TOKEN", "")]:
        for form in sorted(forms(secret, username)):  # as sent, and as a server could echo it
            reporter.mask(form)
    if inputs.airflow_token:
        os.environ["AIRFLOW_API_TOKEN"] = inputs.airflow_token
    workspace = workspace_of(environ)
    _fix_google_credentials(workspace)
    # the trusted deployer's project is the package's copy of the branch's config (action/package.py)
    project = (workspace / (f"{inputs.deploy_package}/project" if inputs.deploy_package else inputs.project_path))
    project = project.resolve()
    deleting_by_id = inputs.delete and inputs.dag_id  # a stop job without the project's files
    elsewhere = deleting_by_id or inputs.deploy_package or inputs.gitlab_packages_from  # no checkout of the project
    if not elsewhere and not (project / "pyproject.toml").is_file():
        raise ConfigError(f"{project} is not a Kedro project (no pyproject.toml)", key="input project-path")
    return RunContext(inputs, environ, reporter, summary, workspace, project)


def _fix_google_credentials(workspace: Path) -> None:
    """google-github-actions/auth writes its credentials file into the runner's workspace, which
    this container sees at another path (/github/workspace): point the variable at that file. Only a
    file the run created qualifies, never one a branch committed (git tracks it)."""
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not path or Path(path).exists():
        return
    candidate = workspace / Path(path).name
    if not candidate.is_file():
        return
    from ...gitinfo.commit import is_tracked

    if is_tracked(workspace, candidate):
        log.warning("GOOGLE_APPLICATION_CREDENTIALS: ignoring %s, which is committed in the repository, not "
                    "written by this run", candidate.name)
        return
    os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = str(candidate)
    log.info("GOOGLE_APPLICATION_CREDENTIALS: using %s (the runner's path is not visible here)", candidate)




Step = Callable[[RunContext], None]


