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

from .. import __version__
from ..deliver.fileio import atomic_write_text
from ..errors import ConfigError
from ..render.templating import environment

ACTION = "getindata/kedro-airflow-k8s-action"
ACTION_IMAGE = "ghcr.io/getindata/kedro-airflow-k8s-action"
CLOUDS = ("gcp", "aws", "none")
_EXPRESSION = re.compile(r"\$\{\{|\$\[\[")


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    text: str


def _to_yaml(value: object) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


_FILTERS = (("yaml", _to_yaml),)  # values go into the YAML through the YAML encoder (or tojson)


def cloud_of(image: str | None, output: str) -> tuple[str, str]:
    """The cloud the workflows log in to, from where the image and the DAGs go, and why: AWS for an ECR
    image or an s3:// folder, GCP for an Artifact Registry or GCR image or a gs:// folder, none otherwise.
    Two clouds at once is an error: say which with --cloud."""
    host = (image or "").split("/", 1)[0] if "/" in (image or "") else ""
    found = {}
    if host.endswith(".amazonaws.com"):
        found["aws"] = f"the image {image}"
    if host.endswith(("pkg.dev", "gcr.io")):
        found["gcp"] = f"the image {image}"
    if output.startswith("s3://"):
        found.setdefault("aws", f"the DAGs folder {output}")
    if output.startswith("gs://"):
        found.setdefault("gcp", f"the DAGs folder {output}")
    if len(found) > 1:
        raise ConfigError(f"{found['aws']} is on AWS and {found['gcp']} on GCP: say which the workflows log in to "
                          "with --cloud gcp|aws|none", key="--cloud")
    if not found:
        return "none", "neither the image nor the DAGs folder is on GCP or AWS: registry login by secrets"
    cloud, why = next(iter(found.items()))
    return cloud, f"from {why}"


def default_branch_of(root: Path) -> tuple[str, str]:
    """The repository's default branch and where it was read: the remote's HEAD, else the only local branch
    (or the branch of the first commit to come), else git's ``init.defaultBranch``, else ``main``. A
    repository made with git's own default is on ``master``: a hard-coded ``main`` would never deploy
    production there."""
    from ..gitinfo.commit import git

    def ask(*args: str) -> str:
        try:
            return git(root, *args).strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    remote = ask("symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    if remote.startswith("origin/"):
        return remote.removeprefix("origin/"), "the remote's HEAD"
    branches = ask("for-each-ref", "--format=%(refname:short)", "refs/heads/").split()
    if len(branches) == 1:
        return branches[0], "the repository's only branch"
    unborn = ask("symbolic-ref", "--quiet", "--short", "HEAD") if not branches else ""
    if unborn:
        return unborn, "the branch of the repository's first commit"
    configured = ask("config", "init.defaultBranch")
    if configured:
        return configured, "git's init.defaultBranch"
    return "main", "nothing said otherwise"


def git_root(project_path: Path) -> Path:
    from ..gitinfo.commit import git

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


_SPARK_SIGNS = (("requirements.txt", "pyspark"), ("src/requirements.txt", "pyspark"),
                ("conf/base/catalog.yml", "spark."), ("conf/base/spark.yml", ""))


def spark_evidence(project_path: Path) -> str | None:
    """What says the project runs Spark (its image then needs a Java runtime, which init's Dockerfile lacks)."""
    for name, sign in _SPARK_SIGNS:
        path = project_path / name
        if path.is_file() and sign in path.read_text(encoding="utf-8", errors="replace"):
            return f"{name} mentions {sign}" if sign else f"{name} exists"
    return None


def action_commit(timeout: float = 10) -> str | None:
    """The commit of this version's release tag, asked of GitHub (``git ls-remote``); None offline."""
    from ..gitinfo.commit import git

    url, tag = f"https://github.com/{ACTION}", f"refs/tags/v{__version__}"
    try:  # https only, from no repository's folder: nothing local configures or redirects the call
        listed = git(Path("/"), "-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "ls-remote", url,
                     tag, tag + "^{}", timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    shas = {ref: sha for sha, ref in (line.split("\t", 1) for line in listed.splitlines() if "\t" in line)}
    return shas.get(tag + "^{}") or shas.get(tag)


# GitHub, by topology (README, "Security model"): each workflow and the environment it runs in ("" for none)
GITHUB_WORKFLOWS = {
    "isolated": (("kedro-airflow-k8s-push.yml", "preview"), ("kedro-airflow-k8s-default-branch.yml", "production"),
                 ("kedro-airflow-k8s-cleanup.yml", "preview")),
    "trusted-deployer": (("kedro-airflow-k8s-package.yml", ""), ("kedro-airflow-k8s-deploy.yml", "preview-deployer"),
                         ("kedro-airflow-k8s-default-branch.yml", "production"),
                         ("kedro-airflow-k8s-cleanup.yml", "preview-deployer")),
}


def plan_workflows(project_path: Path, *, github: bool, gitlab: bool, env: str | None, pipeline: str,
                   image: str | None, cloud: str, default_branch: str, project: dict[str, str],
                   action_sha: str | None = None, preview_image: str | None = None,
                   topology: str = "isolated") -> list[PlannedFile]:
    """The CI files of a topology (README, "Security model"): the default branch deploys to production's
    targets in a protected environment; every other branch deploys to the preview's from its own job
    (isolated previews), or only packages its image and graph for a workflow of the default branch's that
    deploys them (trusted deployer)."""
    root = git_root(project_path)
    relative = project_path.resolve().relative_to(root).as_posix() if project_path.resolve() != root else "."
    values = {
        "version": __version__, "env": env or "", "pipeline": pipeline, "project_path": relative,
        "default_branch": default_branch, "cloud": cloud,
        # by commit, as the third-party actions: a tag can be moved to other code
        "action_ref": f"{ACTION}@{action_sha}  # v{__version__}" if action_sha else f"{ACTION}@v{__version__}",
        "action_image": f"{ACTION_IMAGE}:{__version__}",
    }
    for key, value in {**values, "image": image, "preview-image": preview_image}.items():
        if _EXPRESSION.search(str(value)):
            raise ConfigError(f"{value!r} would be evaluated by the CI; expressions are not allowed here", key=key)
    templates = environment("templates/workflows", ci_syntax=True, filters=_FILTERS)
    planned = []
    if github:
        for name, where in GITHUB_WORKFLOWS[topology]:
            production = where == "production"
            text = templates.get_template(f"github/{name}.j2").render(
                **values, environment=where, production=production,
                image=image if production else preview_image)  # None: the environment's variable KAF_IMAGE
            planned.append(PlannedFile(root / ".github" / "workflows" / name, text))
    if gitlab:
        gitlab_values = {**values, "image": image or "$KAF_IMAGE",
                         "preview_image": preview_image or "$CI_REGISTRY_IMAGE/preview"}
        text = templates.get_template("gitlab/kedro-airflow-k8s.gitlab-ci.yml.j2").render(**gitlab_values,
                                                                                           topology=topology)
        planned.append(PlannedFile(root / ".gitlab" / "kedro-airflow-k8s.gitlab-ci.yml", text))
        if topology == "trusted-deployer":  # the .gitlab-ci.yml of a deployer project of its own
            text = templates.get_template("gitlab/kedro-airflow-k8s-deployer.gitlab-ci.yml.j2").render(**values)
            planned.append(PlannedFile(root / ".gitlab" / "kedro-airflow-k8s-deployer.gitlab-ci.yml", text))
        main = root / ".gitlab-ci.yml"
        if not main.exists():
            inputs = f"\n    inputs:\n      env: {_to_yaml(env or '')}" if env else ""
            planned.append(PlannedFile(main, "# Generated by `kedro airflow-k8s init --with-gitlab-ci`.\n"
                                             "stages: [deploy]\ninclude:\n  - local: "
                                             f".gitlab/kedro-airflow-k8s.gitlab-ci.yml{inputs}\n"))
    return planned


@dataclass(frozen=True)
class Targets:
    """Production's targets as init was told them, for the preview's KAF_DEPLOYMENT."""

    host: str
    output: str
    image: str | None


def _preview_deployment(production: Targets) -> str:
    found = {"outputs": [production.output] if "${" not in production.output else [],
             "airflow_hosts": [production.host], "images": [production.image] if production.image else []}
    return _to_yaml({"production": {key: value for key, value in found.items() if value}})


def left_to_configure(*, github: bool, gitlab: bool, cloud: str, image: str | None, preview_image: str | None = None,
                      production: Targets | None = None, topology: str = "isolated") -> list[str]:
    """What the generated CI still needs from the repository's settings, said once ``init`` is done: each
    environment's own values, never the repository's (README, "Security model")."""
    steps = []
    deployment = f" (at least {_preview_deployment(production)})" if production else ""
    if github:
        cloud_vars = {"gcp": ["GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_SERVICE_ACCOUNT"],
                      "aws": ["AWS_ROLE_ARN", "AWS_REGION"], "none": ["REGISTRY_USERNAME"]}[cloud]
        secrets = ["REGISTRY_PASSWORD"] if cloud == "none" else []
        preview = "preview" if topology == "isolated" else "preview-deployer"
        for where, own_image in (("production", image), (preview, preview_image)):
            production_side = where == "production"
            variables = ["AIRFLOW_HOST", "KAF_DAGS_OUTPUT",
                         "KAF_DEPLOYMENT" + ("" if production_side else deployment), *cloud_vars]
            variables += [] if own_image else ["KAF_IMAGE"]
            # production uploads a file and links the DAG without credentials: it needs no Airflow token
            extra = ["KAF_RECORD_KEY (openssl rand -hex 32)"] if production_side else ["AIRFLOW_API_TOKEN"]
            rule = ("with a deployment branch rule allowing the default branch only" if where != "preview"
                    else "with its own values, none of production's")
            steps.append(f"GitHub environment {where} ({rule}): the variables {', '.join(variables)}; the secrets "
                         f"{', '.join(secrets + extra)}")
        if image and preview_image == image:
            steps.append(f"Warning: previews push to {image}, production's image repository: a branch's job could "
                         "overwrite the images production pulls; give previews a repository of their own "
                         "(--preview-image)")
    if gitlab:
        steps += _gitlab_settings(image, deployment, topology)
    return steps


def _gitlab_settings(image: str | None, deployment: str, topology: str) -> list[str]:
    image_vars = "" if image else "KAF_IMAGE, "
    steps = ["GitLab CI/CD variables scoped to the environment production and protected (only protected "
             "branches see them): AIRFLOW_HOST, KAF_DAGS_OUTPUT, KAF_DEPLOYMENT, KAF_RECORD_KEY (masked), "
             f"{image_vars}KAF_REGISTRY, KAF_REGISTRY_USER and KAF_REGISTRY_PASSWORD "
             "(a registry the job token cannot write)"]
    if topology == "trusted-deployer":
        steps.append("A GitLab deployer project of its own (maintainers only), with .gitlab/kedro-airflow-k8s-"
                     "deployer.gitlab-ci.yml as its .gitlab-ci.yml, a maintainer's pipeline schedule every 5 minutes, "
                     "and protected variables scoped to preview-deployer: KAF_SOURCE_PROJECT, GITLAB_SOURCE_TOKEN "
                     "(masked: a project access token of this project, Reporter, read_api), AIRFLOW_HOST, "
                     "AIRFLOW_API_TOKEN and KAF_DAGS_OUTPUT (the preview Airflow's), KAF_IMAGE (its own registry) "
                     f"and KAF_DEPLOYMENT{deployment}; this project's branches get no variable at all")
    else:
        steps[0] += ("; scoped to review/*: AIRFLOW_HOST, KAF_DAGS_OUTPUT, AIRFLOW_API_TOKEN (the preview Airflow's) "
                     f"and KAF_DEPLOYMENT{deployment}")
    return steps


COMPILED_DAGS_IGNORE = "/dag/"  # compile's default output (compiler.default_output): regenerated, never committed


def ignore_compiled_dags(project_path: Path) -> Path | None:
    """Add compile's output folder to the project's .gitignore, so committing what init wrote does not
    commit DAGs compiled on a laptop; the .gitignore changed, or None."""
    return ignore_in_git(project_path, COMPILED_DAGS_IGNORE, "DAGs compiled here (kedro airflow-k8s compile); "
                                                             "CI compiles its own")


def ignore_in_git(project_path: Path, pattern: str, why: str) -> Path | None:
    """``pattern`` (a folder at the project's root: ``/name/``) in the project's .gitignore (created when
    missing), under a comment saying ``why``; the .gitignore changed, or None when it ignores it already."""
    path = project_path / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    name = pattern.strip("/")
    if any(line.strip() in (name, f"{name}/", f"/{name}", f"/{name}/") for line in text.splitlines()):
        return None
    separator = "" if not text or text.endswith("\n") else "\n"
    atomic_write_text(path, f"{text}{separator}# {why}\n{pattern}\n")
    return path


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
