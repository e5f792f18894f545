"""The steps that read what a run is: git, the config, the workflow's settings, the policy applied to the config."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError
from ...image.docker import image_ref
from ..inputs import ActionInputs

if TYPE_CHECKING:
    pass


from .context import RunContext


def read_git(ctx: RunContext) -> None:
    """Commit and branch, read once, from the CI's checkout only (a repository committed into the
    project is never read): the config's substitutions and the compile reuse them."""
    from ...gitinfo.commit import read_git_info

    checkout = ctx.workspace if (ctx.workspace / ".git").is_dir() else None
    ctx.git = read_git_info(ctx.project if ctx.project.is_dir() else ctx.workspace, ctx.environ, checkout=checkout)
    if ctx.inputs.delete and ctx.inputs.branch:  # a cleanup workflow names the deleted branch
        ctx.git = dataclasses.replace(ctx.git, branch_name=ctx.inputs.branch)
    ctx.summary.commit_id, ctx.summary.branch_name = ctx.git.commit_id, ctx.git.branch_name
    ctx.output("commit-id", ctx.git.commit_id)
    ctx.output("branch-name", ctx.git.branch_name)


def read_config(ctx: RunContext) -> None:
    """The plugin config, read once with everything the workflow overrides (the image tag included),
    so the compile uses this very object; and the workflow's deployment settings."""
    from ...config import load_config

    inputs = ctx.inputs
    _read_workflow_settings(ctx)
    image = image_ref(inputs.image, ctx.git.commit_id) if inputs.image else ""
    overrides = _overrides(inputs, ctx.trusted_host, image)
    ctx.config = load_config(ctx.project, inputs.env, git_info=ctx.git, overrides=overrides)
    ctx.image = image or ctx.config.run_config.image or ""
    if ctx.image:
        ctx.summary.image = ctx.image
        ctx.output("image", ctx.image)


def _read_workflow_settings(ctx: RunContext) -> None:
    """What the workflow decides: the Airflow host that gets the credentials, and the deployment's
    settings (the output input included)."""
    from ...policy.model import load_policy

    ctx.trusted_host, ctx.host_source = _trusted_host(ctx.inputs, ctx.environ)
    ctx.policy = load_policy(ctx.inputs.deployment)
    if ctx.inputs.output:
        ctx.policy = ctx.policy.model_copy(update={"output": ctx.inputs.output})


# What CI must be given, by the variable the generated workflows read it from (init prints them)
CI_VARIABLES = {"image": "KAF_IMAGE", "output": "KAF_DAGS_OUTPUT", "host": "AIRFLOW_HOST"}


def check_ci_settings(ctx: RunContext) -> None:
    """In CI, a run that would deploy nowhere, push a placeholder or have no Airflow to run on is an
    error before anything is built, naming every variable left to set at once."""
    from ...guards.trust import in_ci

    if not in_ci(ctx.environ):
        return
    inputs, missing = ctx.inputs, []
    if inputs.build and inputs.push and not inputs.dry_run and _placeholder(ctx.image):
        missing.append(("image", f"{ctx.image or 'no image'!r} is not an image this job can push: set it to your "
                                 "registry's repository (e.g. europe-docker.pkg.dev/acme/ml/spaceflights)"))
    if not inputs.dry_run:
        problem = _output_problem(ctx)
        if problem:
            missing.append(("output", problem))
    if inputs.run_once and not inputs.dry_run and not ctx.trusted_host:
        missing.append(("host", "run-once sends the Airflow credentials, so the host must come from the workflow: "
                                "set the airflow-host input (or AIRFLOW_HOST) from a protected setting such as a "
                                "repository variable; airflow-k8s.yaml's host is a branch's to change"))
    if missing:
        lines = "\n".join(f"  {CI_VARIABLES[what]}: {text}" for what, text in missing)
        raise ConfigError(f"{len(missing)} setting(s) of the workflow are missing (set these repository or CI/CD "
                          f"variables, which the generated workflows read):\n{lines}",
                          key=f"input {'airflow-host' if missing[0][0] == 'host' else missing[0][0]}")


def refuse_production_targets(ctx: RunContext) -> None:
    """A branch's run never writes to production's DAGs folder, Airflow or image repository (policy/targets.py)."""
    from ...gitinfo.commit import default_branch
    from ...policy.settings import destination
    from ...policy.targets import Aimed, production_targets_hit

    main = default_branch(ctx.environ)
    if ctx.git.branch_name == main:
        return
    try:
        output = destination(ctx.config.output, ctx.policy)[0] or ""
    except ConfigError:
        output = ""  # a branch's own output is refused later, by apply_policy
    hit = production_targets_hit(Aimed(output, ctx.trusted_host, ctx.image), ctx.policy.production)
    if hit:
        lines = "\n".join(f"  {setting}: {value} is production's (deployment.production)" for setting, value in hit)
        raise ConfigError(f"this run is branch {ctx.git.branch_name!r}, not {main!r}, and it is aimed at production:"
                          f"\n{lines}\nA branch's job must never hold production's settings or credentials: set the "
                          "preview's own values in the preview environment (GitHub) or in variables scoped to "
                          "review/* (GitLab), never at the repository's level (README, \"Security model\")",
                          key=f"input {hit[0][0]}")


def apply_policy(ctx: RunContext) -> None:
    """The config narrowed to the workflow's deployment settings (docs/architecture.md, "Trust")."""
    from ...policy.settings import narrow

    ctx.config, notes = narrow(ctx.config, ctx.policy)
    for note in notes:
        ctx.reporter.warning(note)


def _placeholder(image: str) -> bool:
    """init's ``REGISTRY/…``, or a bare name Docker would push to Docker Hub's official namespace."""
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:  # a tag (a registry's port comes before a '/')
        name = name[:name.rfind(":")]
    return not image or name.startswith("REGISTRY/") or "/" not in name


def _output_problem(ctx: RunContext) -> str | None:
    """None when the DAG goes somewhere Airflow can read it after the job; else why not."""
    from ...policy.settings import destination

    try:
        chosen, _ = destination(ctx.config.output, ctx.policy)
    except ConfigError:  # airflow-k8s.yaml names one, the workflow none
        return (f"no DAG location (airflow-k8s.yaml's {ctx.config.output!r} is a branch's, not used in CI): set it "
                "to Airflow's DAGs folder or bucket (gs://…, s3://…)")
    if not chosen:
        return "no DAG location: set it to Airflow's DAGs folder or bucket (gs://…, s3://…)"
    if "://" in chosen and not chosen.startswith("file://"):
        return None
    path = Path(chosen.removeprefix("file://"))
    path = path if path.is_absolute() else Path.cwd() / path
    if path.resolve().is_relative_to(ctx.workspace.resolve()):
        return (f"{chosen!r} is inside the job's workspace, which is thrown away when the job ends: set it to "
                "Airflow's DAGs folder or bucket")
    return None


def _trusted_host(inputs: ActionInputs, environ: Mapping[str, str]) -> tuple[str, str]:
    """The Airflow host the workflow names (input, then the AIRFLOW_HOST variable), and where from."""
    if inputs.airflow_host:
        return inputs.airflow_host, "the airflow-host input"
    host = environ.get("AIRFLOW_HOST", "").strip()
    return (host, "AIRFLOW_HOST") if host else ("", "")


def _overrides(inputs: ActionInputs, trusted_host: str, image: str) -> dict[str, Any]:
    """What the workflow sets over airflow-k8s.yaml. The host that receives the token comes from the
    workflow, never from a file a branch can change."""
    run_config = {"run_name": inputs.run_name, "cron_expression": inputs.schedule, "image": image}
    overrides: dict[str, Any] = {"run_config": {key: value for key, value in run_config.items() if value}}
    if trusted_host:
        overrides["host"] = trusted_host
    return overrides




