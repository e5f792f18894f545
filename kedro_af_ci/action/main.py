"""The container action: git → image → graph → compile + pre-flight → upload → run-once → report.

Runs the same functions as the CLI (compile_dag, upload_dag, deploy_and_run); what it adds is the
image build, extracting the graph inside that image, and reporting to the CI it runs on. Exit
codes are the CLI's (config 3, graph 4, pre-flight 5, upload 6, Airflow API 7, run 8) plus 9 for
docker build/push failures.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Mapping
from pathlib import Path

from ..errors import BuildError, ConfigError, KafError, RunFailed
from .ci import Reporter, detect
from .inputs import ActionInputs
from .summary import SummaryData, render_summary

log = logging.getLogger("kedro_af_ci")


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if os.environ.get("RUNNER_DEBUG") == "1" else logging.INFO)
    log.propagate = False


def _workspace(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("GITHUB_WORKSPACE") or environ.get("CI_PROJECT_DIR") or os.getcwd())


def _fix_google_credentials(workspace: Path) -> None:
    """google-github-actions/auth writes its credentials file into the runner's workspace, which
    this container sees at another path (/github/workspace): point the variable at that file."""
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not path or Path(path).exists():
        return
    candidate = workspace / Path(path).name
    if candidate.is_file():
        os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = str(candidate)
        log.info("GOOGLE_APPLICATION_CREDENTIALS: using %s (the runner's path is not visible here)", candidate)


def _line_of(file: str, key: str | None) -> tuple[str, int | None]:
    """``file`` may be ``path:line:col`` (YAML syntax errors); otherwise find ``key``'s line."""
    parts = file.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return parts[0], int(parts[1])
    if not key:
        return file, None
    try:
        import yaml

        node = yaml.compose(Path(file).read_text(encoding="utf-8"))
        line = None
        for part in key.split("."):
            if isinstance(node, yaml.MappingNode):
                match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
                if match is None:
                    break
                line, node = match[0].start_mark.line + 1, match[1]
            elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
                node = node.value[int(part)]
                line = node.start_mark.line + 1
            else:
                break
        return file, line
    except Exception:  # the annotation still names the file
        return file, None


class ActionRun:
    def __init__(self, environ: Mapping[str, str]):
        self.environ = dict(environ)
        self.reporter: Reporter = detect(self.environ, _raw_dotenv(self.environ))
        self.summary = SummaryData(ok=False)

    def output(self, name: str, value: str) -> None:
        self.reporter.set_output(name, value)

    def run(self) -> int:
        try:
            self._run()
            self.summary.ok = True
            return 0
        except KafError as exc:
            self._report_error(exc)
            return exc.exit_code
        except KeyboardInterrupt:
            return 130
        except Exception as exc:  # a bug: say so, with the traceback in the log (never in the summary)
            traceback.print_exc()
            self.summary.error, self.summary.exit_code = f"internal error: {type(exc).__name__}: {exc}", 1
            self.reporter.error(f"internal error: {type(exc).__name__}: {exc}", title="kedro-airflow-k8s")
            return 1
        finally:
            self.reporter.summary(render_summary(self.summary))
            self.reporter.finish()

    def _report_error(self, exc: KafError) -> None:
        message = exc.message if isinstance(exc, ConfigError) else str(exc)
        self.summary.error, self.summary.exit_code = str(exc), exc.exit_code
        file = getattr(exc, "file", None)
        if isinstance(exc, ConfigError) and file and not file.startswith("input "):
            file, line = _line_of(file, exc.key)
            workspace = _workspace(self.environ)
            if Path(file).is_absolute() and Path(file).is_relative_to(workspace):
                file = str(Path(file).relative_to(workspace))
            title = f"kedro-airflow-k8s: {exc.key}" if exc.key else "kedro-airflow-k8s config"
            self.reporter.error(f"{exc.key + ': ' if exc.key else ''}{message}", file=file, line=line, title=title)
        else:
            self.reporter.error(str(exc), title=f"kedro-airflow-k8s: {type(exc).__name__}")

    def _run(self) -> None:
        from ..compiler import CompileRequest, compile_dag, default_output
        from ..config import load_config
        from ..fileio import atomic_write_text
        from ..gitinfo import read_git_info
        from .docker import Docker, image_ref, registry_of

        inputs = ActionInputs.from_environ(self.environ)
        for secret in [*inputs.secrets, self.environ.get("AIRFLOW_PASSWORD", "")]:
            if secret:
                self.reporter.mask(secret)
        if inputs.airflow_token:
            os.environ["AIRFLOW_API_TOKEN"] = inputs.airflow_token
        workspace = _workspace(self.environ)
        _fix_google_credentials(workspace)
        project = (workspace / inputs.project_path).resolve()
        if not (project / "pyproject.toml").is_file():
            raise ConfigError(f"{project} is not a Kedro project (no pyproject.toml)", key="input project-path")

        git = read_git_info(project, self.environ)
        self.summary.commit_id, self.summary.branch_name = git.commit_id, git.branch_name
        self.output("commit-id", git.commit_id)
        self.output("branch-name", git.branch_name)

        overrides: dict = {"run_config": {}}
        if inputs.run_name:
            overrides["run_config"]["run_name"] = inputs.run_name
        if inputs.airflow_host:
            overrides["host"] = inputs.airflow_host
        if inputs.schedule:
            overrides["run_config"]["cron_expression"] = inputs.schedule
        config = load_config(project, inputs.env, git_info=git, overrides=overrides)
        image = image_ref(inputs.image, git.commit_id) if inputs.image else (config.run_config.image or "")
        if image:
            overrides["run_config"]["image"] = image
            self.summary.image = image
            self.output("image", image)

        docker = Docker.find()
        can_run_image = False
        if inputs.build:
            if not image:
                raise ConfigError("no image to build: set the image input or run_config.image", key="input image")
            if docker is None or not docker.available():
                raise BuildError("cannot build: no Docker engine is reachable (mount /var/run/docker.sock, or set "
                                 "build: false to use an existing image)")
            with self.reporter.section(f"Build {image}"):
                context = str((project / inputs.build_context).resolve()) if inputs.build_context else str(project)
                docker.build(image, context=context, dockerfile=str(project / inputs.dockerfile),
                             build_args=inputs.build_args,
                             labels={"org.opencontainers.image.revision": git.commit_id,
                                     "org.opencontainers.image.ref.name": git.branch_name[:128]})
            self.summary.built = can_run_image = True
            if inputs.push and not inputs.dry_run:
                with self.reporter.section(f"Push {image}"):
                    if inputs.registry_username and inputs.registry_password:
                        docker.login(inputs.registry or registry_of(image), inputs.registry_username,
                                     inputs.registry_password)
                    docker.push(image)
                self.summary.pushed = True
        elif image and docker is not None and config.run_config.execution == "kubernetes":
            can_run_image = docker.available()

        with self.reporter.section("Pipeline graph"):
            graph_file = Path(tempfile.mkdtemp(prefix="kaf-graph-")) / "graph.json"
            graph = self._graph(docker if can_run_image else None, image, config.run_config.project_path,
                                project, inputs)
            atomic_write_text(graph_file, graph.to_json() + "\n")

        schedule = None if inputs.run_once else True  # True: the cron expression of the config (or input)
        with self.reporter.section("Compile and pre-flight"):
            result = compile_dag(CompileRequest(
                project_path=project, env=inputs.env, pipeline=inputs.pipeline, graph_file=graph_file,
                schedule=schedule, verify=inputs.verify, grouping=inputs.group_by, overrides=overrides))
            for warning in result.dag.warnings:
                self.reporter.warning(warning)
            dag_id = result.dag.dag_id
            self.summary.dag_id = dag_id
            self.summary.tasks = [t.task_id for t in result.plan.tasks]
            self.summary.edges = list(result.plan.edges)
            self.output("dag-id", dag_id)
            checked = "loaded in Airflow's DagBag" if result.verification.checked \
                else f"skipped ({result.verification.skipped_because})"
            print(f"DAG {dag_id!r}: {len(result.plan.tasks)} task(s), {result.dag.content_tag}; pre-flight: {checked}",
                  flush=True)

        client = self._client(result.config.host, inputs)
        if client is not None and not inputs.dry_run:
            try:
                self.summary.dag_url = client.dag_url(dag_id)
                self.output("dag-url", self.summary.dag_url)
            except KafError as exc:
                if inputs.run_once:
                    raise
                self.reporter.warning(f"cannot reach Airflow for the DAG's URL: {exc}")

        if inputs.dry_run:
            target = default_output(project, dag_id)
            atomic_write_text(target, result.dag.source)
            self.summary.dag_file = str(target)
            self.output("dag-file", str(target))
            print(f"Dry run: wrote {target}; nothing pushed, uploaded or triggered", flush=True)
            return

        destination = inputs.output or result.config.output
        if not destination:
            raise ConfigError("no DAG location: set output in airflow-k8s.yaml or the output input", key="output")
        if not inputs.run_once:
            from ..upload import upload_artifacts, upload_dag

            with self.reporter.section("Upload"):
                upload_artifacts(result.artifacts)
                uploaded = upload_dag(result.dag.source, destination, f"{dag_id}.py")
            self._uploaded(uploaded.location)
            return

        from ..deploy import deploy_and_run, failure_message

        if client is None:
            raise ConfigError("run-once needs the Airflow host: set host in airflow-k8s.yaml or the airflow-host "
                              "input", key="host")
        with self.reporter.section("Upload and run once"):
            outcome = deploy_and_run(client, result.dag.source, dag_id, result.dag.content_tag, destination,
                                     wait=inputs.wait, timeout=inputs.wait_timeout,
                                     version_timeout=inputs.version_timeout, poll=inputs.poll_interval,
                                     on_uploaded=self._uploaded, artifacts=result.artifacts)
        self.summary.run_id, self.summary.run_state, self.summary.run_url = outcome.run_id, outcome.state, \
            outcome.run_url
        self.summary.task_states = outcome.tasks
        self.output("run-id", outcome.run_id)
        self.output("run-state", outcome.state)
        print(f"Run {outcome.run_id} of {dag_id!r}: {outcome.state} — {outcome.run_url}", flush=True)
        if inputs.wait and outcome.state != "success":
            raise RunFailed(failure_message(outcome))

    def _uploaded(self, location: str) -> None:
        self.summary.dag_file = location
        self.output("dag-file", location)
        print(f"Uploaded the DAG to {location}", flush=True)

    def _graph(self, docker, image: str, image_project_path: str, project: Path, inputs: ActionInputs):
        if docker is not None:
            from .graph_in_image import extract_in_image

            print(f"Extracting the pipeline graph in {image} (at {image_project_path})", flush=True)
            graph = extract_in_image(docker, image, project_path=image_project_path, pipeline=inputs.pipeline,
                                     env=inputs.env)
            self.summary.graph_source = f"extracted in {image}"
            return graph
        from ..graph import extract_graph

        print("Extracting the pipeline graph in this container (no image to run it in)", flush=True)
        graph = extract_graph(project, inputs.pipeline, inputs.env)
        self.summary.graph_source = "extracted in the action's container"
        return graph

    def _client(self, host: str | None, inputs: ActionInputs):
        if not host:
            return None
        from ..airflow_api import AirflowClient, Credentials

        credentials = Credentials(token=inputs.airflow_token or None,
                                  username=self.environ.get("AIRFLOW_USERNAME") or None,
                                  password=self.environ.get("AIRFLOW_PASSWORD") or None)
        verify: bool | str = False if inputs.insecure else self.environ.get("AIRFLOW_CA_BUNDLE") or True
        return AirflowClient(host, credentials, verify=verify)


def _raw_dotenv(environ: Mapping[str, str]) -> str:
    return (environ.get("INPUT_DOTENV") or "").strip()


def main() -> None:
    _setup_logging()
    sys.exit(ActionRun(os.environ).run())


if __name__ == "__main__":
    main()
