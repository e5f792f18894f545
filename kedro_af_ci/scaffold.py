"""``init``: the plugin config, and the GitHub Actions / GitLab CI files that deploy with the action.

Everything is planned first and written only when no target exists (or ``--force``), so an
``init`` that refuses leaves the repository exactly as it was. Values go into the YAML through
JSON/YAML encoders; values that GitHub or GitLab would evaluate (``${{``, ``$[[``) are refused.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from . import __version__
from .deliver.fileio import atomic_write_text
from .errors import ConfigError
from .templating import environment

ACTION = "getindata/kedro-airflow-k8s-action"
ACTION_IMAGE = "ghcr.io/getindata/kedro-airflow-k8s-action"
CLOUDS = ("gcp", "aws", "none")
_EXPRESSION = re.compile(r"\$\{\{|\$\[\[")


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    text: str


def _to_yaml(value) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


_FILTERS = (("yaml", _to_yaml),)  # values go into the YAML through the YAML encoder (or tojson)


def git_root(project_path: Path) -> Path:
    from .gitinfo import git

    try:
        return Path(git(project_path, "rev-parse", "--show-toplevel"))
    except (OSError, subprocess.SubprocessError):
        return project_path.resolve()


def plan_config(project_path: Path, conf_source: str, env: str | None, *, host: str, output: str,
                image: str | None, project: dict[str, str]) -> PlannedFile:
    target = project_path / conf_source / (env or "base") / "airflow-k8s.yaml"
    text = environment(trim=False, filters=_FILTERS).get_template("airflow-k8s.yaml.j2").render(
        host=host, output=output,
        image=(image or project["package_name"].replace("_", "-")) + ":${commit_id|latest}",
        project_name=project["project_name"], run_name=project["package_name"] + "-${branch_name|local}",
        description=f"Kedro project {project['project_name']}",
        start_date=datetime.now(timezone.utc).strftime("%Y%m%d"),
    )
    return PlannedFile(target, text)


def plan_project_image(project_path: Path, project: dict[str, str]) -> list[PlannedFile]:
    """Dockerfile and .dockerignore of the project image (an existing one is kept, as every file)."""
    requirements = next((name for name in ("requirements.txt", "src/requirements.txt")
                         if (project_path / name).is_file()), None)
    values = {"project_name": project["project_name"], "version": __version__, "requirements": requirements}
    templates = environment("templates/project", filters=_FILTERS)
    planned = []
    for name, template in (("Dockerfile", "Dockerfile.j2"), (".dockerignore", "dockerignore.j2")):
        planned.append(PlannedFile(project_path / name, templates.get_template(template).render(**values)))
    return planned


def action_commit(timeout: float = 10) -> str | None:
    """The commit of this version's release tag, asked of GitHub (``git ls-remote``); None offline."""
    from .gitinfo import git

    url, tag = f"https://github.com/{ACTION}", f"refs/tags/v{__version__}"
    try:  # https only, from no repository's folder: nothing local configures or redirects the call
        listed = git(Path("/"), "-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "ls-remote", url,
                     tag, tag + "^{}", timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    shas = {ref: sha for sha, ref in (line.split("\t", 1) for line in listed.splitlines() if "\t" in line)}
    return shas.get(tag + "^{}") or shas.get(tag)


def plan_workflows(project_path: Path, *, github: bool, gitlab: bool, env: str | None, pipeline: str,
                   image: str | None, cloud: str, default_branch: str, project: dict[str, str],
                   action_sha: str | None = None) -> list[PlannedFile]:
    root = git_root(project_path)
    relative = project_path.resolve().relative_to(root).as_posix() if project_path.resolve() != root else "."
    values = {
        "version": __version__, "env": env or "", "pipeline": pipeline, "project_path": relative,
        "default_branch": default_branch, "cloud": cloud,
        # by commit, as the third-party actions: a tag can be moved to other code
        "action_ref": f"{ACTION}@{action_sha}  # v{__version__}" if action_sha else f"{ACTION}@v{__version__}",
        "action_image": f"{ACTION_IMAGE}:{__version__}",
    }
    for key, value in values.items():
        if _EXPRESSION.search(str(value)):
            raise ConfigError(f"{value!r} would be evaluated by the CI; expressions are not allowed here", key=key)
    templates = environment("templates/workflows", ci_syntax=True, filters=_FILTERS)
    planned = []
    if github:
        github_values = {**values, "image": image}  # None: the repository variable KAF_IMAGE
        for name in ("kedro-airflow-k8s-push.yml", "kedro-airflow-k8s-default-branch.yml",
                     "kedro-airflow-k8s-cleanup.yml"):
            text = templates.get_template(f"github/{name}.j2").render(**github_values)
            planned.append(PlannedFile(root / ".github" / "workflows" / name, text))
    if gitlab:
        gitlab_values = {**values, "image": image or "$CI_REGISTRY_IMAGE"}
        text = templates.get_template("gitlab/kedro-airflow-k8s.gitlab-ci.yml.j2").render(**gitlab_values)
        planned.append(PlannedFile(root / ".gitlab" / "kedro-airflow-k8s.gitlab-ci.yml", text))
        main = root / ".gitlab-ci.yml"
        if not main.exists():
            inputs = f"\n    inputs:\n      env: {_to_yaml(env or '')}" if env else ""
            planned.append(PlannedFile(main, "# Generated by `kedro airflow-k8s init --with-gitlab-ci`.\n"
                                             "stages: [deploy]\ninclude:\n  - local: "
                                             f".gitlab/kedro-airflow-k8s.gitlab-ci.yml{inputs}\n"))
    return planned


def left_to_configure(*, github: bool, gitlab: bool, cloud: str, image: str | None) -> list[str]:
    """What the generated CI still needs from the repository's settings, said once ``init`` is done."""
    steps = []
    if github:
        variables = ["AIRFLOW_HOST (your Airflow's URL)", "KAF_DAGS_OUTPUT (Airflow's DAGs folder or bucket)"]
        if not image:
            variables.append("KAF_IMAGE (the image repository to push, e.g. europe-docker.pkg.dev/acme/ml/app)")
        secrets = ["AIRFLOW_API_TOKEN"] + (["REGISTRY_PASSWORD (and the variable REGISTRY_USERNAME)"]
                                           if cloud == "none" else [])
        steps.append(f"GitHub: in the environments production and preview (Settings > Environments), the "
                     f"variables {', '.join(variables)} and the secret(s) {', '.join(secrets)}; "
                     "optionally KAF_DEPLOYMENT (README, \"Security model\")")
    if gitlab:
        steps.append("GitLab: the CI/CD variables AIRFLOW_HOST, KAF_DAGS_OUTPUT and AIRFLOW_API_TOKEN (masked), "
                     "scoped to the environments production (protected) and review/*; optionally KAF_DEPLOYMENT")
    return steps


def write_all(planned: list[PlannedFile], *, force: bool) -> tuple[list[Path], list[Path]]:
    """Write every planned file that does not exist yet (every one with ``force``); an existing
    file is kept as it is. Returns (written, kept)."""
    written, kept = [], []
    for planned_file in planned:
        if planned_file.path.exists() and not force:
            kept.append(planned_file.path)
            continue
        atomic_write_text(planned_file.path, planned_file.text)
        written.append(planned_file.path)
    return written, kept
