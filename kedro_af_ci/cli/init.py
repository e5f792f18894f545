"""init: the config, the project's Dockerfile and the CI files of a topology (scaffold.py plans them)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import __version__
from ..compiler.project import project_identity
from ..errors import ConfigError

if TYPE_CHECKING:
    pass



from .common import Options, airflow_k8s, echo, handle_errors


@airflow_k8s.command()
@click.argument("host")
@click.option("--output", "dag_output", default="${output|dags}", show_default=True,
              help="Location Airflow reads DAGs from (folder, gs://, s3://).")
@click.option("--image", help="Image repository for the nodes (default: the package name); production's in CI.")
@click.option("--preview-image", help="The branches' image repository in CI, one production never pulls from "
                                      "(default: the preview environment's KAF_IMAGE; GitLab: "
                                      "$CI_REGISTRY_IMAGE/preview).")
@click.option("--with-github-actions", "github", is_flag=True,
              help="Also write .github/workflows: run-once on branch pushes, schedule on the default branch.")
@click.option("--with-gitlab-ci", "gitlab", is_flag=True, help="Also write the GitLab CI template (.gitlab/).")
@click.option("--cloud", type=click.Choice(["gcp", "aws", "none"]), default=None,
              help="Registry and bucket authentication of the GitHub workflows: OIDC to GCP or AWS, or secrets "
                   "(default: the cloud of --image and --output, else none).")
@click.option("--default-branch", help="Branch whose pushes schedule the DAG (default: the remote's HEAD, the only "
                                       "branch, git's init.defaultBranch, else main).")
@click.option("--topology", type=click.Choice(["isolated", "trusted-deployer"]), default="isolated",
              show_default=True, help="How branches deploy (README, \"Security model\"): from their own job to preview "
                                      "targets, or as data the default branch's workflow (GitHub) or a deployer "
                                      "project (GitLab) deploys.")
@click.option("--action-sha", callback=lambda ctx, param, value: _check_sha(value),
              help="Commit of this action's release the workflows pin (default: asked of GitHub).")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.pass_obj
@handle_errors
def init(opts: Options, host: str, dag_output: str, image: str | None, preview_image: str | None, github: bool,
         gitlab: bool, cloud: str | None, default_branch: str | None, topology: str, action_sha: str | None,
         force: bool) -> None:
    """Initializes configuration for the plugin (and optionally CI workflows)."""
    from ..config import check_host
    from .scaffold import (
        Targets,
        action_commit,
        cloud_of,
        default_branch_of,
        git_root,
        left_to_configure,
        plan_config,
        plan_project_image,
        plan_workflows,
        write_all,
    )

    try:
        host = check_host(host) or host  # a required argument: never None
    except ValueError as exc:
        raise ConfigError(str(exc), key="host") from None
    if (github or gitlab) and default_branch is None:
        default_branch, why = default_branch_of(git_root(opts.project_path))
        echo(f"Default branch: {default_branch} ({why}; --default-branch changes it): its pushes deploy production")
    default_branch = default_branch or "main"
    if github and cloud is None:
        cloud, why = cloud_of(image, dag_output)
        echo(f"Cloud login in the workflows: {cloud} ({why}; --cloud changes it)")
    cloud = cloud or "none"
    project = project_identity(opts.project_path)
    config = plan_config(opts.project_path, opts.conf_source, opts.env, host=host, output=dag_output, image=image,
                         project=project)
    extra = plan_project_image(opts.project_path, project)
    if github and not action_sha:
        action_sha = action_commit()
        if not action_sha:
            echo("Warning: GitHub could not be asked for the commit of this action's release: the workflows "
                       f"name it by tag (v{__version__}); pin it with --action-sha", err=True)
    if github or gitlab:
        extra += plan_workflows(opts.project_path, github=github, gitlab=gitlab, env=opts.env,
                                pipeline=opts.pipeline, image=image, cloud=cloud, default_branch=default_branch,
                                project=project, action_sha=action_sha, preview_image=preview_image,
                                topology=topology)
    written, kept = write_all([config, *extra], force=force)
    for path in written:
        echo(f"Wrote {path}")
    for path in kept:
        echo(f"Kept {path} (it exists; --force replaces it)")
    _after_init(opts.project_path, written)
    steps = left_to_configure(github=github, gitlab=gitlab, cloud=cloud, image=image, preview_image=preview_image,
                              production=Targets(host, dag_output, image), topology=topology)
    if steps:
        echo("Left to configure before the first push:\n" + "\n".join(f"  - {step}" for step in steps))


def _after_init(project_path: Path, written: list[Path]) -> None:
    """What init's files leave to the project: Java for Spark in the image, compiled DAGs out of git."""
    from .scaffold import COMPILED_DAGS_IGNORE, ignore_compiled_dags, spark_evidence

    if project_path / "Dockerfile" in written and (spark := spark_evidence(project_path)):
        echo(f"Warning: this project runs Spark ({spark}), and the Dockerfile init wrote has no Java runtime, "
             "which Spark needs in the image: install one (Debian: apt-get install -y --no-install-recommends "
             "openjdk-17-jre-headless) or start FROM an image with Spark, unless run_config.spark runs the Spark "
             "nodes elsewhere (Dataproc)", err=True)
    if ignored := ignore_compiled_dags(project_path):
        echo(f"Added {COMPILED_DAGS_IGNORE} to {ignored}: compiled DAGs stay out of the repository")




def _check_sha(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[0-9a-f]{40}", value):
        raise click.BadParameter(f"{value!r} is not a full commit SHA (40 hexadecimal characters)")
    return value




