"""action.yml, the Dockerfile, the entrypoint and the workflows `init` generates, checked by the
tools GitHub and GitLab users would run: the official schemas (check-jsonschema's vendored copies),
actionlint (with shellcheck for run: scripts), hadolint and shellcheck."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, copy_example, git, make_repo, run_cli

BIN = Path(sys.executable).parent
ACTION_SHA = "0123456789abcdef0123456789abcdef01234567"


def tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed in the test environment (pyproject dev extra)"
    return str(path)


def check(cmd: list[str]) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, env={"PATH": f"{BIN}:/usr/bin:/bin"}, timeout=300)
    assert result.returncode == 0, f"{cmd[0]}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_action_yml_matches_the_github_action_schema():
    check([tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ROOT / "action.yml")])


def test_action_runs_the_image_the_release_workflow_publishes():
    """action.yml names the prebuilt image of this version; release.yml builds and pushes that tag."""
    from kedro_af_ci import __version__

    image = yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["image"]
    assert image == f"docker://ghcr.io/getindata/kedro-airflow-k8s-action:{__version__}"
    release = ROOT / ".github" / "workflows" / "release.yml"
    check([tool("actionlint"), "-shellcheck", tool("shellcheck"), str(release)])
    check([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(release)])
    check([tool("zizmor"), "--offline", "--no-progress", str(release)])
    text = release.read_text()
    assert "EXTRA_REQUIREMENTS" in text and (ROOT / "requirements" / "action-google.txt").is_file()
    assert "docker push" in text and "--password-stdin" in text and "${{" not in "".join(
        line for line in text.splitlines() if line.strip().startswith(("docker", "printf", "for", "if")))


def test_dockerfile_passes_hadolint():
    check([tool("hadolint"), "--failure-threshold", "info", str(ROOT / "Dockerfile")])


def test_entrypoint_passes_shellcheck():
    check([tool("shellcheck"), "--severity=style", str(ROOT / "entrypoint" / "entrypoint.sh")])


def test_the_inputs_table_matches_action_yml():
    declared = yaml.safe_load((ROOT / "action.yml").read_text())
    readme = (ROOT / "docs" / "action.md").read_text()
    table = readme.split("| input | default | description |", 1)[1].split("\n\n", 1)[0]
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| `?([^|`]*)`? \|", table, flags=re.M))
    inputs = {k: str(v.get("default", "")) for k, v in declared["inputs"].items()}
    assert {k: rows.get(k) for k in inputs} == inputs
    for output in declared["outputs"]:
        assert f"`{output}`" in readme


def example_without_config(root, branch: str = "main"):
    """The example project in a git repository at ``root``, without the config `init` writes."""
    project = copy_example(root / "spaceflights")
    (project / "conf" / "base" / "airflow-k8s.yaml").unlink()
    make_repo(root, branch=branch)
    return project


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """`init` with both CI templates, in a repository whose Kedro project sits in a sub-folder."""
    root = tmp_path_factory.mktemp("init-repo")
    example_without_config(root)
    results = {}
    for cloud in ("gcp", "aws", "none"):
        target = tmp_path_factory.mktemp(f"init-{cloud}")
        shutil.copytree(root, target, dirs_exist_ok=True)
        result = run_cli("--project-path", str(target / "spaceflights"), "-e", "prod", "init",
                         "https://airflow.example.com", "--output", "gs://dags-bucket/dags", "--image",
                         "europe-docker.pkg.dev/acme/ml/spaceflights", "--cloud", cloud, "--with-github-actions",
                         "--with-gitlab-ci", "--action-sha", ACTION_SHA)
        assert result.returncode == 0, result.stderr
        results[cloud] = target
    return results


@pytest.mark.parametrize("cloud", ["gcp", "aws", "none"])
def test_generated_github_workflows_pass_actionlint_and_the_schema(generated, cloud):
    workflows = sorted((generated[cloud] / ".github" / "workflows").glob("*.yml"))
    assert [w.name for w in workflows] == ["kedro-airflow-k8s-cleanup.yml", "kedro-airflow-k8s-default-branch.yml",
                                           "kedro-airflow-k8s-push.yml"]
    check([tool("actionlint"), "-shellcheck", tool("shellcheck"), *map(str, workflows)])
    check([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, workflows)])
    check([tool("zizmor"), "--offline", "--no-progress", "--persona", "auditor", *map(str, workflows)])  # none at all
    cleanup, default, push = (yaml.safe_load(w.read_text()) for w in workflows)
    assert set(cleanup[True]) == {"delete", "pull_request"} and cleanup[True]["pull_request"]["types"] == ["closed"]
    step = next(s for s in cleanup["jobs"]["delete"]["steps"] if s.get("id") == "kedro-airflow-k8s")
    assert step["with"]["delete"] is True and "github.event.ref" in step["with"]["branch"]
    assert push[True]["push"]["branches-ignore"] == ["main"] and default[True]["push"]["branches"] == ["main"]
    step = next(s for s in push["jobs"]["run-once"]["steps"] if s.get("id") == "kedro-airflow-k8s")
    assert step["with"]["run-once"] is True and step["with"]["wait"] is True
    assert step["with"]["project-path"] == "spaceflights" and step["with"]["env"] == "prod"
    assert step["uses"] == f"getindata/kedro-airflow-k8s-action@{ACTION_SHA}"  # pinned like third-party actions
    assert f"@{ACTION_SHA}  # v" in workflows[2].read_text()
    for workflow, where in ((push, "preview"), (default, "production"), (cleanup, "preview")):
        assert workflow["permissions"] == {}  # none but what each job asks for
        for job in workflow["jobs"].values():
            assert job["environment"] == where  # every setting, secret and identity is the environment's
            permissions = job["permissions"]
            assert permissions["contents"] == "read"
            assert set(permissions) == ({"contents"} if cloud == "none" else {"contents", "id-token"})
            step = next(s for s in job["steps"] if s.get("id") == "kedro-airflow-k8s")
            assert ("record-key" in step["with"]) == (where == "production")  # the key never reaches a branch
            assert step["with"]["image"] == ("europe-docker.pkg.dev/acme/ml/spaceflights" if where == "production"
                                             else "${{ vars.KAF_IMAGE }}")  # the preview's own repository
            for s in job["steps"]:
                if "uses" in s:
                    assert re.search(r"@[0-9a-f]{40}$", s["uses"]), s["uses"]  # every action pinned by SHA
                assert "github.head_ref" not in s.get("run", "") and "github.event" not in s.get("run", "")


def test_generated_gitlab_template_passes_the_gitlab_schema(generated, tmp_path):
    template = generated["gcp"] / ".gitlab" / "kedro-airflow-k8s.gitlab-ci.yml"
    header, _, body = template.read_text().partition("\n---\n")
    (tmp_path / "header.yml").write_text(header)
    (tmp_path / "body.yml").write_text(body)
    check([tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(tmp_path / "header.yml"),
           str(tmp_path / "body.yml"), str(generated["gcp"] / ".gitlab-ci.yml")])
    spec = yaml.safe_load(header)["spec"]["inputs"]
    assert spec["env"]["default"] == "prod" and spec["project-path"]["default"] == "spaceflights"
    jobs = yaml.safe_load(body)
    assert jobs["kedro-airflow-k8s-run-once"]["variables"]["INPUT_RUN_ONCE"] == "true"
    assert jobs[".kedro-airflow-k8s"]["artifacts"]["reports"]["dotenv"] == "kedro-airflow-k8s.env"
    assert jobs[".kedro-airflow-k8s"]["script"] == ["/entrypoint.sh"]
    review = jobs["kedro-airflow-k8s-run-once"]["environment"]  # GitLab's review apps: stopped with the branch
    assert review == {"name": "review/$CI_COMMIT_REF_SLUG", "on_stop": "kedro-airflow-k8s-stop",
                      "auto_stop_in": "1 week"}
    stop = jobs["kedro-airflow-k8s-stop"]
    assert stop["environment"] == {"name": "review/$CI_COMMIT_REF_SLUG", "action": "stop"}
    assert stop["variables"] == {"GIT_STRATEGY": "none", "INPUT_DELETE": "true", "INPUT_DAG_ID": "$KAF_DAG_ID"}
    assert jobs["kedro-airflow-k8s-schedule"]["environment"] == {"name": "production"}
    # previews push with the job token to their own repository; production with a protected login to its own
    assert jobs[".kedro-airflow-k8s"]["variables"]["INPUT_IMAGE"] == "$[[ inputs.preview-image ]]"
    assert spec["preview-image"]["default"] == "$CI_REGISTRY_IMAGE/preview"
    schedule = jobs["kedro-airflow-k8s-schedule"]["variables"]
    assert schedule["INPUT_IMAGE"] == "$[[ inputs.image ]]" and schedule["INPUT_RECORD_KEY"] == "$KAF_RECORD_KEY"
    assert schedule["INPUT_REGISTRY_PASSWORD"] == "$KAF_REGISTRY_PASSWORD"
    assert "INPUT_RECORD_KEY" not in jobs["kedro-airflow-k8s-run-once"]["variables"]


def test_init_keeps_every_existing_file_unless_forced(generated):
    """One rule for every file init writes: a missing file is written, an existing one kept and named."""
    root = generated["none"]
    workflow = root / ".github" / "workflows" / "kedro-airflow-k8s-push.yml"
    workflow.write_text("# mine\n")
    gitlab = root / ".gitlab" / "kedro-airflow-k8s.gitlab-ci.yml"
    gitlab.unlink()
    dockerfile = root / "spaceflights" / "Dockerfile"
    dockerfile.write_text("FROM my-own\n")
    args = ("--project-path", str(root / "spaceflights"), "-e", "prod", "init", "https://a.example.com",
            "--with-github-actions", "--with-gitlab-ci", "--action-sha", ACTION_SHA)
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert workflow.read_text() == "# mine\n" and dockerfile.read_text() == "FROM my-own\n" and gitlab.exists()
    assert f"Wrote {gitlab}" in result.stdout
    for kept in (workflow, dockerfile, root / "spaceflights" / "conf" / "prod" / "airflow-k8s.yaml"):
        assert f"Kept {kept} (it exists; --force replaces it)" in result.stdout
    forced = run_cli(*args, "--force")
    assert forced.returncode == 0 and workflow.read_text() != "# mine\n"
    assert "FROM ${BASE_IMAGE}" in dockerfile.read_text()


def test_the_airflow_extra_is_what_the_action_image_installs():
    """`pip install 'kedro-airflow-k8s-action[airflow]'` gives the CLI's pre-flight the Airflow and
    providers the action image checks DAGs with (requirements/action.txt)."""
    import tomllib

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["airflow"]
    image = [line.strip() for line in (ROOT / "requirements" / "action.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert sorted(extra) == sorted(image)


def test_the_pull_request_workflow_runs_lint_and_the_unit_tier():
    """The repository's own CI for pull requests: the checks `make lint` runs, then `make test-unit`."""
    workflow = ROOT / ".github" / "workflows" / "ci.yml"
    check([tool("actionlint"), "-shellcheck", tool("shellcheck"), str(workflow)])
    check([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)])
    check([tool("zizmor"), "--offline", "--no-progress", str(workflow)])
    steps = [step.get("run") for step in yaml.safe_load(workflow.read_text())["jobs"]["lint-and-unit"]["steps"]]
    assert steps[1:] == ["make lint", "make test-unit"]
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile.split("\nlint: ", 1)[1].split("\n\n", 1)[0]
    for command in ("ruff check", "lint-imports", "mypy", "actionlint", "zizmor", "hadolint"):
        assert command in lint, command


def test_the_grouping_modes_are_one_list_everywhere_users_read_them():
    from kedro_af_ci.config import Grouping
    from kedro_af_ci.vocabulary.modes import GROUPINGS

    listed = ", ".join(GROUPINGS)
    assert tuple(g.value for g in Grouping) == GROUPINGS
    description = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]["group-by"]["description"]
    assert f"({listed})" in description
    assert f"({listed})" in (ROOT / "docs" / "action.md").read_text()  # the generated input table


def test_readme_stays_a_guide_under_350_lines():
    """README is for users (try it, your project, CI, operating it, reference); tables of every
    input and key, benchmarks and the design live in docs/ and are linked from it."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 350, f"README.md has {len(lines)} lines: move reference material to docs/"
    for linked in re.findall(r"\]\((docs/[^)#]+)", "\n".join(lines)):
        assert (ROOT / linked).is_file(), linked


def test_init_says_what_each_environment_holds_and_names_productions_targets_for_the_preview():
    from kedro_af_ci.cli.scaffold import Targets, left_to_configure

    steps = left_to_configure(github=True, gitlab=True, cloud="aws", image="ecr.example/acme/app",
                              production=Targets("https://airflow.example.com", "s3://prod/dags",
                                                 "ecr.example/acme/app"))
    production, preview, gitlab = steps
    assert "KAF_RECORD_KEY" in production and "KAF_RECORD_KEY" not in preview  # the key never reaches a branch
    assert "AWS_ROLE_ARN" in production and "AWS_ROLE_ARN" in preview  # an identity of each environment's own
    assert "KAF_IMAGE" in preview and "KAF_IMAGE" not in production  # init named production's repository only
    targets = "{production: {airflow_hosts: ['https://airflow.example.com'], images: [ecr.example/acme/app], " \
              "outputs: ['s3://prod/dags']}}"
    assert f"KAF_DEPLOYMENT (at least {targets})" in preview and targets in gitlab
    shared = left_to_configure(github=True, gitlab=False, cloud="none", image="r/app", preview_image="r/app")
    assert shared[-1].startswith("Warning: previews push to r/app, production's image repository")


@pytest.fixture(scope="module")
def trusted_deployer(tmp_path_factory):
    root = tmp_path_factory.mktemp("init-trusted")
    project = example_without_config(root)
    result = run_cli("--project-path", str(project), "init", "https://airflow.example.com", "--output",
                     "gs://dags-bucket/dags", "--cloud", "gcp", "--with-github-actions", "--topology",
                     "trusted-deployer",
                     "--action-sha", ACTION_SHA)
    assert result.returncode == 0, result.stderr
    return root / ".github" / "workflows"


def test_trusted_deployer_branch_jobs_hold_nothing_and_the_deploy_reads_the_artifact_as_data(trusted_deployer):
    workflows = sorted(trusted_deployer.glob("*.yml"))
    assert [w.name for w in workflows] == ["kedro-airflow-k8s-cleanup.yml", "kedro-airflow-k8s-default-branch.yml",
                                           "kedro-airflow-k8s-deploy.yml", "kedro-airflow-k8s-package.yml"]
    check([tool("actionlint"), "-shellcheck", tool("shellcheck"), *map(str, workflows)])
    check([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, workflows)])
    # the deliberate workflow_run carries zizmor's own ignore comment, with the reason; nothing else is found
    check([tool("zizmor"), "--offline", "--no-progress", "--persona", "auditor", *map(str, workflows)])
    cleanup, default, deploy, package = (yaml.safe_load(w.read_text()) for w in workflows)
    package_text = workflows[3].read_text()
    assert "secrets." not in package_text and "vars." not in package_text and "environment" not in package["jobs"][
        "package"]  # a branch's job holds no secret, no setting, no identity
    assert package["permissions"] == {} and package["jobs"]["package"]["permissions"] == {"contents": "read"}
    assert package[True] == {"push": {"branches-ignore": ["main"]}}
    assert deploy[True] == {"workflow_run": {"workflows": ["kedro-airflow-k8s package"], "types": ["completed"]}}
    job = deploy["jobs"]["deploy"]
    assert job["environment"] == "preview-deployer" and "conclusion == 'success'" in job["if"]
    assert not any("run" in step or "checkout" in step.get("uses", "") for step in job["steps"])  # no branch code
    action = next(step for step in job["steps"] if step.get("id") == "kedro-airflow-k8s")
    assert action["with"]["deploy-package"] == "kedro-airflow-k8s-package"
    assert action["with"]["branch"] == "${{ github.event.workflow_run.head_branch }}"  # from the event, not the data
    assert "zizmor: ignore[dangerous-triggers]" in workflows[2].read_text()
    assert set(cleanup[True]) == {"delete"} and cleanup["jobs"]["delete"]["environment"] == "preview-deployer"
    assert default["jobs"]["schedule"]["environment"] == "production"


def test_gitlab_trusted_deployer_branch_jobs_hold_nothing_and_a_deployer_project_deploys(tmp_path):
    """The Kedro project's branch job packages with no variable and no registry login; the deployer project's file
    runs only from a schedule (or a maintainer's click), reads no checkout, and names the source project."""
    project = copy_example(tmp_path / "spaceflights")
    make_repo(tmp_path)
    result = run_cli("--project-path", str(project), "-e", "prod", "init", "https://airflow.example.com",
                     "--output", "gs://dags-bucket/dags", "--with-gitlab-ci", "--topology", "trusted-deployer")
    assert result.returncode == 0, result.stderr
    assert "deployer project of its own" in result.stdout and "GITLAB_SOURCE_TOKEN" in result.stdout
    template, deployer = (tmp_path / ".gitlab" / name for name in ("kedro-airflow-k8s.gitlab-ci.yml",
                                                                  "kedro-airflow-k8s-deployer.gitlab-ci.yml"))
    header, _, body = template.read_text().partition("\n---\n")
    (tmp_path / "header.yml").write_text(header)
    (tmp_path / "body.yml").write_text(body)
    check([tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(tmp_path / "header.yml"),
           str(tmp_path / "body.yml"), str(deployer)])
    jobs = yaml.safe_load(body)
    assert set(jobs) == {".kedro-airflow-k8s", "kedro-airflow-k8s-package", "kedro-airflow-k8s-schedule"}
    package = jobs["kedro-airflow-k8s-package"]
    assert "environment" not in package and package["variables"]["INPUT_PACKAGE"] == "true"
    for name in ("INPUT_REGISTRY_PASSWORD", "INPUT_REGISTRY_USERNAME", "INPUT_OUTPUT", "INPUT_DEPLOYMENT",
                 "INPUT_IMAGE"):
        assert package["variables"][name] == ""  # the base job's values are replaced: nothing to push or upload with
    assert "kedro-airflow-k8s-package/" in package["artifacts"]["paths"]
    assert package["rules"] == [{"if": "$CI_COMMIT_BRANCH && $CI_COMMIT_BRANCH != $CI_DEFAULT_BRANCH"}]
    assert jobs["kedro-airflow-k8s-schedule"]["variables"]["INPUT_RECORD_KEY"] == "$KAF_RECORD_KEY"
    pipeline = yaml.safe_load(deployer.read_text())
    rule = '$CI_PIPELINE_SOURCE == "schedule" || $CI_PIPELINE_SOURCE == "web"'  # a maintainer's schedule or click
    assert pipeline["workflow"]["rules"] == [{"if": rule}]
    deploy = pipeline["kedro-airflow-k8s-deploy-packages"]
    assert deploy["environment"] == {"name": "preview-deployer"} and deploy["script"] == ["/entrypoint.sh"]
    assert deploy["variables"]["GIT_STRATEGY"] == "none"  # nothing checked out: the packages are all it reads
    assert deploy["variables"]["INPUT_GITLAB_PACKAGES_FROM"] == "$KAF_SOURCE_PROJECT"
    assert deploy["variables"]["INPUT_ENV"] == "prod" and "services" not in deploy  # no engine: nothing is built


@pytest.mark.parametrize(("image", "output", "cloud"), [
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app", "s3://bucket/dags", "aws"),
    ("ghcr.io/acme/app", "s3://bucket/dags", "aws"),
    ("europe-docker.pkg.dev/acme/ml/app", "dags", "gcp"),
    (None, "gs://bucket/dags", "gcp"),
    ("ghcr.io/acme/app", "/opt/airflow/dags", "none"),
])
def test_the_cloud_is_the_one_the_image_and_the_dags_folder_are_on(image, output, cloud):
    from kedro_af_ci.cli.scaffold import cloud_of

    assert cloud_of(image, output)[0] == cloud


def test_init_logs_in_to_the_cloud_of_an_ecr_image_not_to_google(tmp_path):
    """Before: --cloud defaulted to gcp, so an ECR image and an s3:// folder got a workflow logging in to Google."""
    project = example_without_config(tmp_path)
    result = run_cli("--project-path", str(project), "init", "https://airflow.example.com", "--output",
                     "s3://bucket/dags", "--image", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app",
                     "--with-github-actions", "--action-sha", ACTION_SHA)
    assert result.returncode == 0, result.stderr
    assert "Cloud login in the workflows: aws (from the image 123456789012.dkr.ecr" in result.stdout
    assert "AWS_ROLE_ARN" in result.stdout and "GCP_" not in result.stdout  # what is left names AWS's
    text = (tmp_path / ".github" / "workflows" / "kedro-airflow-k8s-push.yml").read_text()
    assert "aws-actions/configure-aws-credentials" in text and "google-github-actions" not in text
    both = run_cli("--project-path", str(project), "init", "https://airflow.example.com", "--output",
                   "gs://bucket/dags", "--image", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app",
                   "--with-github-actions", "--force", "--action-sha", ACTION_SHA)
    assert both.returncode == 3 and "is on AWS and the DAGs folder gs://bucket/dags on GCP" in both.stderr


def test_init_deploys_production_from_the_repositorys_own_default_branch(tmp_path):
    """Before: main was written whatever the repository's default: on git's own default, master, production
    never deployed and every push ran as a preview."""
    project = example_without_config(tmp_path, branch="master")
    result = run_cli("--project-path", str(project), "init", "https://airflow.example.com", "--with-github-actions",
                     "--action-sha", ACTION_SHA)
    assert result.returncode == 0, result.stderr
    assert "Default branch: master (the repository's only branch" in result.stdout
    workflows = tmp_path / ".github" / "workflows"
    assert yaml.safe_load((workflows / "kedro-airflow-k8s-default-branch.yml").read_text())[True]["push"] == {
        "branches": ["master"]}
    assert yaml.safe_load((workflows / "kedro-airflow-k8s-push.yml").read_text())[True]["push"] == {
        "branches-ignore": ["master"]}


def test_the_default_branch_of_a_clone_is_its_remotes(tmp_path):
    from kedro_af_ci.cli.scaffold import default_branch_of

    origin = tmp_path / "origin"
    origin.mkdir()
    (origin / "README.md").write_text("x")
    make_repo(origin, branch="trunk")
    git(origin, "branch", "feature")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "checkout", "-q", "feature")
    assert default_branch_of(clone) == ("trunk", "the remote's HEAD")
    unborn = tmp_path / "unborn"
    unborn.mkdir()
    git(unborn, "init", "-q", "-b", "develop")
    assert default_branch_of(unborn) == ("develop", "the branch of the repository's first commit")
