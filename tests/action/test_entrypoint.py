"""The container action's entrypoint, run exactly as GitHub (and GitLab) run it.

Environment ``INPUT_*`` (GitHub's hyphenated spelling), ``GITHUB_*``, ``GITHUB_OUTPUT`` and
``GITHUB_STEP_SUMMARY``; the workspace is a real git repository holding the example project.
Only the docker CLI is replaced, by the recording STUB in tests/dockerstub.py: these are the fast
checks of what the action asks docker to do. The same flows with a real engine, registry, act and
gitlab-ci-local are in test_github_act.py, test_gitlab_ci_local.py and test_docker_run.py.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
from pathlib import Path

import pytest
from attacks import plant_bare_repository, plant_shadow_modules
from conftest import ROOT, copy_example, git, log_outputs, make_repo, secret
from dockerstub import calls, install

from kedro_af_ci.image.docker import branch_tag

ENTRYPOINT = ROOT / "entrypoint" / "entrypoint.sh"
REGISTRY_PASSWORD = secret("regpass-Zx81-never-printed")
# what the example's config uses that the safe defaults do not allow: the workflow of its users says so
EXAMPLE_DEPLOYMENT = "executions: [kubernetes, docker, local]\nservice_accounts: [kedro-runner]\n"


def parse_github_output(path: Path) -> dict[str, str]:
    """Read $GITHUB_OUTPUT the way the runner does (name<<DELIMITER ... DELIMITER)."""
    outputs, lines = {}, path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        name, _, delimiter = lines[i].partition("<<")
        end = lines.index(delimiter, i + 1)
        outputs[name] = "\n".join(lines[i + 1:end])
        i = end + 1
    return outputs


class Workspace:
    def __init__(self, tmp_path: Path, branch: str = "main"):
        self.root = tmp_path / "workspace"
        self.root.mkdir()
        self.project = copy_example(self.root / "spaceflights")
        self.commit = make_repo(self.root, branch=branch)
        self.bin = tmp_path / "stub-bin"
        self.docker_log = tmp_path / "docker-calls.jsonl"
        self.output = tmp_path / "github_output"
        self.summary = tmp_path / "step_summary.md"
        install(self.bin)

    def run(self, inputs: dict[str, str], env: dict[str, str] | None = None):
        """The action with ``inputs``; the deployment's settings and the DAG folder default to the example's."""
        inputs = {"deployment": EXAMPLE_DEPLOYMENT, "output": str(self.root.parent / "dags"), **inputs}
        path = os.pathsep.join([str(self.bin), "/usr/local/bin", "/usr/bin", "/bin"])  # the stub comes first
        environ = {
            "PATH": path, "HOME": str(self.root.parent / "home"), "LANG": "C.UTF-8",
            "KAF_PYTHON": sys.executable,
            "AIRFLOW_HOME": os.environ["AIRFLOW_HOME"], "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "KUBECONFIG": os.environ["KUBECONFIG"],
            "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": str(self.root),
            "GITHUB_OUTPUT": str(self.output), "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_EVENT_NAME": "push", "GITHUB_SHA": self.commit, "GITHUB_REPOSITORY": "acme/spaceflights",
            "DOCKER_STUB_LOG": str(self.docker_log), "DOCKER_STUB_IMAGE_ROOT": str(self.project),
            "INPUT_PROJECT-PATH": "spaceflights",
            **{f"INPUT_{k.upper()}": v for k, v in inputs.items()},
            **(env or {}),
        }
        result = subprocess.run(["bash", str(ENTRYPOINT)], cwd=self.root, env=environ, capture_output=True,
                                text=True, timeout=900)
        log_outputs("action", result.stdout, result.stderr)
        result.outputs = parse_github_output(self.output)
        result.summary = self.summary.read_text() if self.summary.exists() else ""
        result.docker = calls(self.docker_log)
        return result


def committed_files(project: Path) -> list[str]:
    """The files of the checked-out commit under ``project``, minus those no shipment holds."""
    from kedro_af_ci.gitinfo.source_tree import deny_spec

    return sorted(f for f in git(project, "ls-files").splitlines() if not deny_spec().match_file(f))


def docker_commands(result) -> list[str]:
    return [c["argv"][0] for c in result.docker]


@pytest.mark.slow
def test_push_builds_extracts_in_image_runs_once_and_reports(airflow_server, tmp_path):
    ws = Workspace(tmp_path, branch="feature/price-model")
    result = ws.run(
        {"env": "demo", "pipeline": "data_processing", "image": "registry.example.com/acme/spaceflights",
         "registry-username": "ci-bot", "registry-password": REGISTRY_PASSWORD, "run-once": "true",
         "wait": "true", "poll-interval": "1", "run-name": "kaf-action-${branch_name}",
         "build-args": "PIP_INDEX=https://pypi.example/simple\n", "output": str(airflow_server.dags_folder)},
        env={"AIRFLOW_HOST": airflow_server.url,
             "KEDRO_CONFIG_DAGS_FOLDER": str(airflow_server.dags_folder),
             "KEDRO_CONFIG_PROJECT_PATH": str(ws.project),
             "KEDRO_CONFIG_RUN_NAME": "kaf-action-${branch_name}",
             "GITHUB_REF_NAME": "feature/price-model", **airflow_server.env()})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    image = f"registry.example.com/acme/spaceflights:{ws.commit}"
    out = result.outputs
    assert out["image"] == image
    assert out["commit-id"] == ws.commit and out["branch-name"] == "feature/price-model"
    dag_id = "kaf-action-feature_price-model__aa60e1f192c507d9ef01"  # the branch's '/' made it hashed
    assert out["dag-id"] == dag_id
    assert out["dag-file"] == str(airflow_server.dags_folder / f"{dag_id}.py")
    assert out["dag-url"] == f"{airflow_server.url}/dags/{dag_id}"
    assert out["run-state"] == "success" and out["run-id"].startswith("kaf_run_once__")

    # the image is pushed only after its graph was read and its DAG passed the pre-flight; the build reuses the
    # layers of the branch's latest image and the default branch's, pulled first (an empty engine has none)
    assert docker_commands(result) == ["version", "buildx", "login", "pull", "pull", "build", "run", "push", "tag",
                                       "push"]  # buildx: which builder (the classic one pulls its cache first)
    # the project runs from the workspace here (KEDRO_CONFIG_PROJECT_PATH), not where the Dockerfile copies it
    assert "Code-only deploy: no (the code goes to /home/kedro, not run_config.project_path" in result.stdout
    _, login, pull_branch, pull_default, build, run, push, tag, push_latest = result.docker[1:]
    repository = "registry.example.com/acme/spaceflights"
    assert pull_branch["argv"] == ["pull", "--quiet", f"{repository}:{branch_tag('feature/price-model')}"]
    assert pull_default["argv"] == ["pull", "--quiet", f"{repository}:kaf-branch-main"]
    assert build["argv"][:2] == ["build", "--file"] and build["argv"][3:5] == ["--tag", image]
    assert build["argv"][5:9] == ["--cache-from", pull_branch["argv"][-1], "--cache-from", pull_default["argv"][-1]]
    assert build["argv"][9:11] == ["--build-arg", "PIP_INDEX=https://pypi.example/simple"]
    assert f"org.opencontainers.image.revision={ws.commit}" in build["argv"]
    assert build["dockerfile"] == (ws.project / "Dockerfile").read_text()  # the commit's, from a copy
    assert build["context_files"] == committed_files(ws.project)
    assert login["argv"] == ["login", "registry.example.com", "--username", "ci-bot", "--password-stdin"]
    assert login["stdin_bytes"] == len(REGISTRY_PASSWORD)
    assert push["argv"] == ["push", image]
    assert tag["argv"] == ["tag", image, pull_branch["argv"][-1]] and push_latest["argv"] == ["push", tag["argv"][-1]]
    assert run["argv"][:9] == ["run", "--rm", "-i", "--network", "none", "--entrypoint", "python", "--workdir",
                               str(ws.project)]
    assert image in run["argv"] and run["stdin_bytes"] > 1000  # the extraction modules travel on stdin

    assert "```mermaid\nflowchart LR" in result.summary
    assert "preprocess#95;companies#95;node" not in result.summary  # labels are not cell-escaped
    assert '["preprocess_companies_node"]' in result.summary
    assert "| create&#95;model&#95;input&#95;table&#95;node | success |" in result.summary
    assert "extracted in image registry.example.com/acme/spaceflights" in result.summary
    assert "::group::Build registry.example.com/acme/spaceflights" in result.stdout

    # the password reaches docker through stdin only; the log shows it only in the masking command
    logs = result.stdout + result.stderr
    assert logs.count(REGISTRY_PASSWORD) == logs.count(f"::add-mask::{REGISTRY_PASSWORD}") == 1
    assert logs.count(airflow_server.password) == logs.count(f"::add-mask::{airflow_server.password}") == 1
    for text in (ws.output.read_text(), result.summary, (airflow_server.dags_folder / f"{dag_id}.py").read_text()):
        assert REGISTRY_PASSWORD not in text and airflow_server.password not in text
    assert all(REGISTRY_PASSWORD not in arg for c in result.docker for arg in c["argv"])


def test_pull_request_on_detached_head_dry_run(tmp_path):
    hostile = "feature/$(touch PWNED)`id`;'\"x"
    ws = Workspace(tmp_path)
    git(ws.root, "checkout", "-q", "--detach")
    result = ws.run({"image": "ghcr.io/acme/spaceflights", "dry-run": "true", "run-name": "sf-${branch_name}"},
                    env={"GITHUB_EVENT_NAME": "pull_request", "GITHUB_HEAD_REF": hostile,
                         "GITHUB_REF_NAME": "12/merge", "GITHUB_REF": "refs/pull/12/merge"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.outputs
    assert out["branch-name"] == hostile and out["commit-id"] == ws.commit
    assert out["image"] == f"ghcr.io/acme/spaceflights:{ws.commit}"
    dag_file = Path(out["dag-file"])
    assert dag_file.parent == ws.project / "dag" and dag_file.is_file()
    assert "run-id" not in out and "dag-url" not in out
    assert docker_commands(result) == ["version", "build", "run"]  # dry run: nothing pushed
    assert not list(tmp_path.rglob("PWNED"))
    assert "loaded in Airflow's DagBag" in result.stdout
    assert "&#96;id&#96;" in result.summary  # the hostile branch shows as text in the summary


def test_config_error_is_annotated_at_the_key_and_exits_3(tmp_path):
    ws = Workspace(tmp_path)
    config = ws.project / "conf" / "base" / "airflow-k8s.yaml"
    lines = config.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith("run_name:"))
    lines[index] = lines[index].replace("run_name:", "run_nmae:")
    config.write_text("\n".join(lines) + "\n")
    git(ws.root, "commit", "-qam", "typo")
    result = ws.run({"image": "ghcr.io/acme/spaceflights"})
    assert result.returncode == 3
    expected = f"::error file=spaceflights/conf/base/airflow-k8s.yaml,line={index + 1},title=kedro-airflow-k8s%3A "
    assert expected in result.stdout, result.stdout
    assert "did you mean" in result.stdout
    assert result.docker == []  # nothing built on a bad config
    assert "Failed (exit code 3)" in result.summary
    assert "Traceback" not in result.stdout + result.stderr


def test_build_failure_exits_9_and_uploads_nothing(tmp_path):
    ws = Workspace(tmp_path)
    dags = tmp_path / "dags"
    result = ws.run({"image": "ghcr.io/acme/spaceflights", "output": str(dags)}, env={"DOCKER_STUB_FAIL": "build"})
    assert result.returncode == 9
    assert "::error title=kedro-airflow-k8s%3A BuildError::docker build of ghcr.io/acme/spaceflights" in result.stdout
    assert "failed to solve" in result.summary
    assert not dags.exists()
    # main (the default branch) without record-key takes no layer cache: a moving tag is a branch's to write
    assert docker_commands(result) == ["version", "build", "buildx", "build"]
    assert "the default branch takes none from the registry" in result.stdout


SPY = """
import json, os
with open({path!r}, "w") as spy:
    json.dump(dict(os.environ), spy)
"""


@pytest.mark.parametrize("opt_in", [False, True], ids=["refused", "extract-without-docker"])
def test_gitlab_job_without_docker_never_runs_project_code_next_to_the_secrets(tmp_path, opt_in):
    """No engine: the project's code (here settings.py, which records its environment) runs only on the
    explicit opt-in, and then in a child process that holds none of the secrets."""
    ws = Workspace(tmp_path)
    spy = tmp_path / "environment-seen-by-project-code.json"
    settings = ws.project / "src" / "spaceflights" / "settings.py"
    settings.write_text(settings.read_text() + SPY.format(path=str(spy)))
    git(ws.root, "commit", "-qam", "project code that reads its environment")
    ws.commit = git(ws.root, "rev-parse", "HEAD")
    dags = tmp_path / "dags"
    env = {k: "" for k in ("GITHUB_ACTIONS", "GITHUB_WORKSPACE", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    env.update({"GITLAB_CI": "true", "CI_PROJECT_DIR": str(ws.root), "CI_COMMIT_SHA": ws.commit,
                "CI_COMMIT_REF_NAME": "main", "DOCKER_STUB_NO_ENGINE": "1",  # a docker CLI, but no engine
                "AIRFLOW_API_TOKEN": "tok-secret-4471", "AIRFLOW_PASSWORD": "pw-secret-4472"})
    inputs = {"build": "false", "output": str(dags), "verify": "false", "schedule": "0 3 * * *",
              "registry-password": "reg-secret-4473", "extract-without-docker": str(opt_in).lower()}
    result = ws.run(inputs, env=env)
    if not opt_in:
        assert result.returncode == 4 and "set extract-without-docker: true" in result.stdout + result.stderr
        assert not spy.exists() and not dags.exists()
        return
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    seen = spy.read_text()
    assert "secret-447" not in seen and "INPUT_" not in seen
    dotenv = dict(line.split("=", 1) for line in (ws.root / "kedro-airflow-k8s.env").read_text().splitlines())
    assert dotenv["KAF_DAG_ID"] == "spaceflights"
    assert dotenv["KAF_DAG_FILE"] == str(dags / "spaceflights.py")
    assert dotenv["KAF_COMMIT_ID"] == ws.commit and dotenv["KAF_BRANCH_NAME"] == "main"
    assert "Extracting the pipeline graph in a child process" in result.stdout
    assert "section_start:" in result.stdout and "::group::" not in result.stdout
    assert "schedule='0 3 * * *'" in (dags / "spaceflights.py").read_text()
    assert "extracted in a child process" in (ws.root / "kedro-airflow-k8s-summary.md").read_text()


def test_arguments_run_the_cli(tmp_path):
    ws = Workspace(tmp_path)
    result = subprocess.run(["bash", str(ENTRYPOINT), "--version"], env={**os.environ, "KAF_PYTHON": sys.executable},
                            capture_output=True, text=True, cwd=ws.root)
    assert result.returncode == 0 and "kedro-airflow-k8s-action" in result.stdout


def test_modules_committed_in_the_workspace_are_never_imported(tmp_path):
    ws = Workspace(tmp_path)
    marker = plant_shadow_modules(ws.root)
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "shadow modules")
    subprocess.run([sys.executable, "-m", "kedro_af_ci.cli", "--version"], cwd=ws.root, capture_output=True)
    assert marker.exists()  # a plain `python -m` in the workspace runs them: the attack is real
    marker.unlink()
    result = ws.run({"image": "ghcr.io/acme/spaceflights", "dry-run": "true", "verify": "false"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert not marker.exists()
    cli = subprocess.run(["bash", str(ENTRYPOINT), "--version"], cwd=ws.root, capture_output=True, text=True,
                         env={**os.environ, "KAF_PYTHON": sys.executable})
    assert cli.returncode == 0 and "kedro-airflow-k8s-action" in cli.stdout
    assert not marker.exists()


def test_a_repository_committed_into_the_project_is_never_read(tmp_path):
    ws = Workspace(tmp_path)
    marker = tmp_path / "PWNED-by-fsmonitor"
    plant_bare_repository(ws.project, marker)
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "a repository inside the project")
    real = git(ws.root, "rev-parse", "HEAD")
    assert subprocess.run(["git", "status"], cwd=ws.project, capture_output=True).returncode is not None
    assert marker.exists()  # plain git in the project folder runs the planted command: the attack is real
    marker.unlink()
    result = ws.run({"image": "ghcr.io/acme/spaceflights", "dry-run": "true", "verify": "false"},
                    env={"GITHUB_SHA": "0" * 40})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert not marker.exists()
    assert result.outputs["commit-id"] == real and result.outputs["branch-name"] == "main"


def test_the_token_never_goes_to_a_host_a_branch_chose(tmp_path):
    """airflow-k8s.yaml names a host of the attacker's: run-once refuses (the host must come from the
    workflow), and a plain upload asks it for nothing but the API version, without any credential."""
    from attacks import RecordingServer

    attacker = RecordingServer(lambda method, path: (200, {"Content-Type": "application/json"},
                                                     b'{"version": "3.3.2"}'))
    try:
        ws = Workspace(tmp_path)
        env = {"KEDRO_CONFIG_AIRFLOW_HOST": attacker.url, "AIRFLOW_API_TOKEN": "tok-for-the-real-airflow",
               "AIRFLOW_USERNAME": "admin", "AIRFLOW_PASSWORD": "pw-for-the-real-airflow"}
        inputs = {"image": "ghcr.io/acme/spaceflights", "verify": "false", "output": str(tmp_path / "dags")}
        result = ws.run({**inputs, "run-once": "true"}, env=env)
        assert result.returncode == 3, result.stdout[-2000:] + result.stderr[-2000:]
        assert "the host must come from the workflow: set the airflow-host input" in result.stdout
        assert attacker.seen == []
        result = ws.run(inputs, env=env)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert [(method, path) for method, path, _, _ in attacker.seen] == [("GET", "/api/v2/version")]
        for _, _, headers, body in attacker.seen:
            assert "Authorization" not in headers and b"pw-for" not in body
        assert "airflow-k8s.yaml: no credential is sent to it" in result.summary
    finally:
        attacker.close()


@pytest.mark.parametrize(("host", "insecure", "refused"), [
    ("http://airflow.example.com", "false", True),
    ("http://airflow.example.com", "true", False),
    ("http://127.0.0.1:9", "false", False),
    ("https://airflow.example.com", "false", False),
])
def test_credentials_only_travel_over_https_or_loopback(tmp_path, host, insecure, refused):
    ws = Workspace(tmp_path)
    result = ws.run({"image": "ghcr.io/acme/spaceflights", "verify": "false", "run-once": "true", "dry-run": "true",
                     "airflow-host": host, "insecure": insecure}, env={"AIRFLOW_API_TOKEN": "tok"})
    refusal = "would send the Airflow credentials in clear"
    assert (refusal in result.stdout) is refused
    assert result.returncode == (3 if refused else 0), result.stdout[-2000:]


@pytest.mark.parametrize("committed", [True, False], ids=["committed-by-a-branch", "written-by-the-auth-step"])
def test_google_credentials_are_never_taken_from_a_committed_file(tmp_path, committed):
    """The auth step writes gha-creds-*.json into the runner's workspace at run time; a branch could
    commit a file of that name (here the workflow uses a fixed one) to swap in its own account."""
    ws = Workspace(tmp_path)
    creds = ws.root / "gha-creds-fixed.json"
    creds.write_text('{"type": "service_account", "client_email": "attacker@evil.example"}')
    if committed:
        git(ws.root, "add", "gha-creds-fixed.json")
        git(ws.root, "commit", "-qm", "my credentials")
    result = ws.run({"image": "ghcr.io/acme/spaceflights", "dry-run": "true", "verify": "false"},
                    env={"GOOGLE_APPLICATION_CREDENTIALS": "/home/runner/work/sf/sf/gha-creds-fixed.json"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    used = f"GOOGLE_APPLICATION_CREDENTIALS: using {creds}" in result.stderr
    assert used is not committed
    assert ("which is committed in the repository" in result.stderr) is committed


def commands_in_effect(stdout: str) -> list[str]:
    """The workflow commands GitHub would act on, outside stop-commands blocks (tests/runner_commands.py:
    the runner's own parsing)."""
    from runner_commands import github_command

    active, token = [], None
    for line in stdout.splitlines():
        command = github_command(line)
        if token is not None:
            if line.strip() == f"::{token}::":
                token = None
            continue
        if command and command.startswith("::stop-commands::"):
            token = line.strip().removeprefix("::stop-commands::")
        elif command:
            active.append(command)
    return active


def test_nothing_a_branch_controls_becomes_a_workflow_command(tmp_path):
    ws = Workspace(tmp_path)
    output = tmp_path / "dags\n::error title=forged by a path::pwned"
    result = ws.run({"image": "ghcr.io/acme/spaceflights", "verify": "false", "output": str(output)},
                    env={"DOCKER_STUB_BUILD_OUTPUT": "Step 3/9 : RUN echo\n::error title=forged by a Dockerfile::pwned"
                                                     "\n::add-mask::the-real-log"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "::error title=forged by a Dockerfile::pwned" in result.stdout  # shown, not obeyed
    active = commands_in_effect(result.stdout) + commands_in_effect(result.stderr)
    assert [c for c in active if c.startswith(("::error title=forged", "::add-mask::the-real-log"))] == []
    assert any(c.startswith("::group::Build") for c in active)  # the action's own commands still work
    assert (output / "spaceflights.py").is_file()


def test_the_image_is_built_from_the_commit_not_the_workspace(tmp_path):
    """CI steps leave credentials in the workspace (the auth action's gha-creds-*.json, the token checkout
    keeps in .git/config); a branch that drops .dockerignore would ship them in its image. The build
    context is the commit's files instead, the same on every runner."""
    ws = Workspace(tmp_path)
    (ws.project / ".dockerignore").unlink()
    git(ws.root, "commit", "-qam", "no .dockerignore")
    ws.commit = git(ws.root, "rev-parse", "HEAD")
    creds = ws.project / "gha-creds-4f2a.json"
    creds.write_text('{"type": "external_account"}')  # written by the auth step, after the checkout
    git(ws.root, "config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic dG9rZW4=")
    dockerfile = ws.project / "Dockerfile"
    committed = dockerfile.read_text()
    dockerfile.write_text(committed + "RUN echo changed by an earlier step\n")  # the workspace, not the commit
    workspace_files = {p.relative_to(ws.project).as_posix() for p in ws.project.rglob("*") if p.is_file()}
    assert "gha-creds-4f2a.json" in workspace_files  # `docker build <project folder>` would send it

    result = ws.run({"image": "ghcr.io/acme/spaceflights", "dry-run": "true", "verify": "false"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [build] = [c for c in result.docker if c["argv"][0] == "build"]
    assert build["context_files"] == committed_files(ws.project)
    assert "gha-creds-4f2a.json" not in build["context_files"] and ".git/config" not in build["context_files"]
    assert build["dockerfile"] == committed
    assert not any(str(ws.project) in arg for arg in build["argv"])  # nothing read from the workspace


def test_credential_files_a_branch_commits_stay_out_of_the_image(tmp_path):
    ws = Workspace(tmp_path)
    for name in ("conf/local/credentials.yml", "keys/deploy.pem", ".env", "gha-creds-x.json"):
        (ws.project / name).parent.mkdir(parents=True, exist_ok=True)
        (ws.project / name).write_text("secret\n")
    git(ws.root, "add", "-f", "-A")
    git(ws.root, "commit", "-qm", "credentials committed by mistake")
    result = ws.run({"image": "ghcr.io/acme/spaceflights", "dry-run": "true", "verify": "false"})
    assert result.returncode == 0, result.stdout[-2000:]
    [build] = [c for c in result.docker if c["argv"][0] == "build"]
    assert not {"conf/local/credentials.yml", "keys/deploy.pem", ".env", "gha-creds-x.json"} & set(
        build["context_files"])


def test_in_ci_a_run_that_would_deploy_nowhere_fails_naming_every_variable_to_set(tmp_path):
    """The generated workflows read their settings from repository variables; with none set, the run
    must not build, "upload" into the throw-away workspace and exit 0."""
    ws = Workspace(tmp_path)
    config = ws.project / "conf" / "base" / "airflow-k8s.yaml"
    config.write_text(config.read_text().replace("${image_repository|ghcr.io/example/spaceflights}", "spaceflights"))
    git(ws.root, "commit", "-qam", "the image init writes without --image")
    result = ws.run({"output": "", "run-once": "true"}, env={"AIRFLOW_API_TOKEN": "tok"})
    assert result.returncode == 3, result.stdout[-2000:]
    for variable in ("KAF_IMAGE: 'spaceflights:", "KAF_DAGS_OUTPUT: no DAG location", "AIRFLOW_HOST: run-once"):
        assert variable in result.stdout.replace("%0A", "\n"), result.stdout
    assert result.docker == []  # nothing built

    inside = ws.run({"image": "ghcr.io/acme/spaceflights", "output": str(ws.root / "dags")})
    assert inside.returncode == 3
    assert "KAF_DAGS_OUTPUT:" in inside.stdout and "inside the job's workspace" in inside.stdout
    assert not (ws.root / "dags").exists()


def test_delete_removes_the_branchs_dag_file_then_the_dag_in_airflow(tmp_path):
    """The cleanup workflow (a deleted branch): its DAG's file goes, then Airflow is asked to delete
    the DAG; another branch's DAG, named by id, is refused and left as it was."""
    import json

    from attacks import RecordingServer
    from conftest import make_config, make_graph
    from containers import start_registry
    from servers import stop

    from kedro_af_ci.gitinfo.commit import GitInfo
    from kedro_af_ci.plan.build import build_plan
    from kedro_af_ci.render.dag import render_dag

    info = GitInfo("0" * 40, "feature/x", repository="acme/spaceflights")
    plan = build_plan(make_graph([("a", [], ["x"], [])]), make_config(
        tmp_path / "cfg", {"image": "a:1", "run_name": "sf-${branch_name}"}, git_info=info), info, schedule=None)
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / f"{plan.dag.dag_id}.py").write_text(render_dag(plan).source)
    served = {"dag_id": plan.dag.dag_id, "tags": [{"name": t} for t in plan.dag.tags], "timetable_summary": None}

    def answer(method, path):
        body = {"version": "3.3.2"} if path == "/api/v2/version" else served
        return (204, {}, b"") if method == "DELETE" else (200, {"Content-Type": "application/json"},
                                                          json.dumps(body).encode())

    airflow = RecordingServer(answer)
    (tmp_path / "registry").mkdir()
    registry = start_registry(tmp_path / "registry")
    try:
        ws = Workspace(tmp_path)
        inputs = {"delete": "true", "output": str(dags), "airflow-host": airflow.url, "run-name": "sf-${branch_name}"}
        refused = ws.run({**inputs, "branch": "feature/y", "dag-id": plan.dag.dag_id}, env={"AIRFLOW_API_TOKEN": "tok"})
        assert refused.returncode == 3 and "a branch deletes only its own DAG" in refused.stdout
        assert (dags / f"{plan.dag.dag_id}.py").exists() and not [s for s in airflow.seen if s[0] == "DELETE"]

        # the branch's layer-cache tag goes from the (real) registry too; the default branch's stays
        registry.push("acme/spaceflights", "x", branch_tag("feature/x"), "1" * 40)
        registry.push("acme/spaceflights", "main", "kaf-branch-main")
        login = {"image": f"{registry.host}/acme/spaceflights", "registry-username": registry.username,
                 "registry-password": registry.password}
        result = ws.run({**inputs, **login, "branch": "feature/x"}, env={"AIRFLOW_API_TOKEN": "tok"})
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert not (dags / f"{plan.dag.dag_id}.py").exists()
        assert ("DELETE", f"/api/v2/dags/{plan.dag.dag_id}") in [(m, p) for m, p, _, _ in airflow.seen]
        assert result.outputs["dag-id"] == plan.dag.dag_id and "removed from Airflow" in result.summary
        assert f"removed image tag(s) {branch_tag('feature/x')}, {'1' * 40}" in html.unescape(result.summary)
        assert registry.tags("acme/spaceflights") == ["kaf-branch-main"]
        said = [line for line in result.stdout.splitlines() if registry.password in line]
        assert said == [f"::add-mask::{registry.password}"] and registry.password not in result.summary
        assert result.docker == []  # nothing built for a deletion
    finally:
        airflow.close()
        stop(registry.proc)


def test_with_buildkit_the_image_carries_its_cache_metadata(tmp_path):
    ws = Workspace(tmp_path, branch="feature/x")
    result = ws.run({"image": "ghcr.io/acme/spaceflights"}, env={"DOCKER_STUB_BUILDX": "1"})
    assert result.returncode == 0, result.stdout[-2000:]
    *_, build = [c for c in result.docker if c["argv"][0] == "build"]  # the project's (after the code layer's)
    assert "BUILDKIT_INLINE_CACHE=1" in build["argv"]  # the next build reads the cache from the registry
    # BuildKit reads the cache from the registry itself: the images are looked up, never pulled whole
    assert "pull" not in docker_commands(result)
    looked_up = [c["argv"][-1] for c in result.docker if c["argv"][:3] == ["buildx", "imagetools", "inspect"]]
    cache_from = [build["argv"][i + 1] for i, arg in enumerate(build["argv"]) if arg == "--cache-from"]
    assert cache_from == looked_up == [f"ghcr.io/acme/spaceflights:{branch_tag('feature/x')}",
                                       "ghcr.io/acme/spaceflights:kaf-branch-main"]  # the branch's, then main's
    assert "(read from the registry by BuildKit)" in result.stdout
    assert build["preflight_worker_running"]  # Airflow imports for the pre-flight while the image builds


def test_a_branch_aimed_at_production_stops_before_anything_is_built(tmp_path):
    """A preview's job given production's DAGs folder, Airflow or image repository (a variable set at the
    repository's level instead of the environment's) stops with exit 3 when the deployment names them;
    the default branch's run, and a branch without deployment.production, are not stopped."""
    ws = Workspace(tmp_path, branch="feature/x")
    production = str(tmp_path / "prod-dags")
    deployment = (EXAMPLE_DEPLOYMENT + f"\nproduction: {{outputs: [{production}/], airflow_hosts: "
                  "['https://airflow.prod.example'], images: [ghcr.io/acme/spaceflights]}")
    result = ws.run({"deployment": deployment, "output": production, "image": "ghcr.io/acme/spaceflights",
                     "airflow-host": "https://AIRFLOW.prod.example:443/home", "dry-run": "true"})
    assert result.returncode == 3, result.stdout[-3000:]
    text = result.stdout.replace("%0A", "\n")
    assert "this run is branch 'feature/x', not 'main', and it is aimed at production" in text
    for setting in (f"output: {production}", "image: ghcr.io/acme/spaceflights:", "airflow-host: https://AIRFLOW"):
        assert setting in text, text
    assert result.docker == [] and not Path(production).exists()  # nothing built, nothing written

    preview = ws.run({"deployment": deployment, "output": str(tmp_path / "preview-dags"), "dry-run": "true",
                      "image": "ghcr.io/acme/spaceflights-preview"})
    assert "aimed at production" not in preview.stdout, preview.stdout[-3000:]
