"""The container action: git → image → graph → compile + pre-flight → upload → run-once → report.

Runs the same functions as the CLI (compile_dag, upload_dag, deploy_and_run); what it adds is the
image build, extracting the graph inside that image, and reporting to the CI it runs on. Exit
codes are the CLI's (config 3, graph 4, pre-flight 5, upload 6, Airflow API 7, run 8) plus 9 for
docker build/push failures.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import BuildError, ConfigError, GraphError, KafError, RunFailed
from .ci import Reporter, detect, one_line
from .inputs import ActionInputs
from .summary import SummaryData, render_summary

log = logging.getLogger("kedro_af_ci")


class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return one_line(super().format(record))


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter("%(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if os.environ.get("RUNNER_DEBUG") == "1" else logging.INFO)
    log.propagate = False


def _workspace(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("GITHUB_WORKSPACE") or environ.get("CI_PROJECT_DIR") or os.getcwd())


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
    from ..gitinfo import is_tracked

    if is_tracked(workspace, candidate):
        log.warning("GOOGLE_APPLICATION_CREDENTIALS: ignoring %s, which is committed in the repository, not "
                    "written by this run", candidate.name)
        return
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

        # the CI's checkout is the only repository read (a repository committed into the project is not)
        checkout = workspace if (workspace / ".git").is_dir() else None
        git = read_git_info(project, self.environ, checkout=checkout)
        self.summary.commit_id, self.summary.branch_name = git.commit_id, git.branch_name
        self.output("commit-id", git.commit_id)
        self.output("branch-name", git.branch_name)

        overrides: dict = {"run_config": {}}
        if inputs.run_name:
            overrides["run_config"]["run_name"] = inputs.run_name
        # the host that receives the token comes from the workflow, never from a file a branch can change
        trusted_host, host_source = _trusted_host(inputs, self.environ)
        if trusted_host:
            overrides["host"] = trusted_host
        if inputs.schedule:
            overrides["run_config"]["cron_expression"] = inputs.schedule
        config = load_config(project, inputs.env, git_info=git, overrides=overrides)
        image = image_ref(inputs.image, git.commit_id) if inputs.image else (config.run_config.image or "")
        if image:
            overrides["run_config"]["image"] = image
            self.summary.image = image
            self.output("image", image)

        docker = Docker.find()
        if docker is not None:
            docker.quarantine = self.reporter.untrusted
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
                             build_args=inputs.build_args, network=inputs.build_network,
                             labels={"org.opencontainers.image.revision": git.commit_id,
                                     "org.opencontainers.image.ref.name": git.branch_name[:128]})
            self.summary.built = can_run_image = True
        elif image and docker is not None and config.run_config.execution != "local":
            can_run_image = docker.available()

        with self.reporter.section("Pipeline graph"):
            graph_file = Path(tempfile.mkdtemp(prefix="kaf-graph-")) / "graph.json"
            runner = self._runner(docker if can_run_image else None, image, config.run_config.project_path,
                                  project, inputs)
            graph = self._graph(runner, inputs.pipeline, inputs.env)
            atomic_write_text(graph_file, graph.to_json() + "\n")

        schedule = None if inputs.run_once else True  # True: the cron expression of the config (or input)
        with self.reporter.section("Compile and pre-flight"):
            result = compile_dag(CompileRequest(
                project_path=project, env=inputs.env, pipeline=inputs.pipeline, graph_file=graph_file,
                schedule=schedule, run_once=inputs.run_once, verify=inputs.verify, grouping=inputs.group_by,
                overrides=overrides, git=git,
                spark_factory=_factory_in(runner)))
            for warning in result.dag.warnings:
                self.reporter.warning(warning)
            dag_id = result.dag.dag_id
            self.summary.dag_id = dag_id
            self.summary.tasks = [t.task_id for t in result.plan.tasks]
            self.summary.edges = list(result.plan.edges)
            if result.artifacts is not None:
                self.summary.archive_files = list(result.artifacts.packed)
            self.output("dag-id", dag_id)
            checked = "loaded in Airflow's DagBag" if result.verification.checked \
                else f"skipped ({result.verification.skipped_because})"
            self.reporter.line(f"DAG {dag_id!r}: {len(result.plan.tasks)} task(s), {result.dag.content_tag}; "
                               f"pre-flight: {checked}")

        if inputs.build and inputs.push and not inputs.dry_run:  # only an image whose DAG passed the pre-flight
            with self.reporter.section(f"Push {image}"):
                if inputs.registry_username and inputs.registry_password:
                    docker.login(inputs.registry or registry_of(image), inputs.registry_username,
                                 inputs.registry_password)
                docker.push(image)
            self.summary.pushed = True

        host = result.config.host
        if host:
            self.summary.airflow_host = f"{host} ({host_source or 'airflow-k8s.yaml: no credential is sent to it'})"
        if inputs.run_once and host and not trusted_host:
            raise ConfigError("run-once sends the Airflow credentials, so the host must come from the workflow: set "
                              "the airflow-host input (or AIRFLOW_HOST) from a protected setting such as a "
                              "repository variable; airflow-k8s.yaml's host is a branch's to change",
                              key="input airflow-host")
        client = self._client(host, inputs, credentials=bool(trusted_host))
        if client is not None and not inputs.dry_run:
            # only run-once needs Airflow: for the link alone, one quick try (no retries) is enough
            linker = client if inputs.run_once else self._client(host, inputs, credentials=False, retries=0,
                                                                 timeout=5)
            try:
                self.summary.dag_url = linker.dag_url(dag_id)
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
            self.reporter.line(f"Dry run: wrote {target}; nothing pushed, uploaded or triggered")
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
        self.reporter.line(f"Run {outcome.run_id} of {dag_id!r}: {outcome.state} — {outcome.run_url}")
        if inputs.wait and outcome.state != "success":
            raise RunFailed(failure_message(outcome))

    def _uploaded(self, location: str) -> None:
        self.summary.dag_file = location
        self.output("dag-file", location)
        self.reporter.line(f"Uploaded the DAG to {location}")

    def _runner(self, docker, image: str, image_project_path: str, project: Path, inputs: ActionInputs):
        """Where the project's code runs: in the project image, else (opt-in) a cleaned child process."""
        from .isolated import ChildRunner, ImageRunner

        if docker is not None:
            return ImageRunner(docker, image, image_project_path)
        if not inputs.extract_without_docker:
            raise GraphError("no project image to read the pipeline graph in (no Docker engine, or execution local): "
                             "the project's code never runs in the action's process, which holds the secrets. "
                             "Mount the Docker socket (with build: true, or an existing image), or set "
                             "extract-without-docker: true if you trust the code of every branch")
        return ChildRunner(project)

    def _graph(self, runner, pipeline: str, env: str | None):
        from .graph_in_image import extract_with

        self.reporter.line(f"Extracting the pipeline graph in {runner.where}")
        graph = extract_with(runner, pipeline, env)
        self.summary.graph_source = f"extracted in {runner.where}"
        return graph

    def _client(self, host: str | None, inputs: ActionInputs, *, credentials: bool, **options):
        """A client of ``host``; it holds the credentials only for a host the workflow named."""
        if not host:
            return None
        from ..airflow_api import AirflowClient, Credentials

        if credentials:
            _check_transport(host, inputs.insecure)
        secrets = Credentials(token=inputs.airflow_token or None,
                              username=self.environ.get("AIRFLOW_USERNAME") or None,
                              password=self.environ.get("AIRFLOW_PASSWORD") or None) if credentials else Credentials()
        verify: bool | str = False if inputs.insecure else self.environ.get("AIRFLOW_CA_BUNDLE") or True
        return AirflowClient(host, secrets, verify=verify, **options)


def _factory_in(runner):
    """A custom Spark operator factory is project code: it runs where the graph was read."""
    from ..spark import factory_output, factory_request
    from .isolated import run_job

    def run(class_path, settings, jobs):
        def error(message: str) -> ConfigError:
            return ConfigError(f"the Spark operator factory {class_path!r} failed {message}",
                               key="run_config.spark.operator_factory")

        return factory_output(run_job(runner, "spark-factory", factory_request(class_path, settings, jobs), error))

    return run


def _trusted_host(inputs: ActionInputs, environ: Mapping[str, str]) -> tuple[str, str]:
    """The Airflow host the workflow names (input, then the AIRFLOW_HOST variable), and where from."""
    if inputs.airflow_host:
        return inputs.airflow_host, "the airflow-host input"
    host = environ.get("AIRFLOW_HOST", "").strip()
    return (host, "AIRFLOW_HOST") if host else ("", "")


def _check_transport(host: str, insecure: bool) -> None:
    """Credentials travel over https, or plain http on this machine's loopback, or where insecure says so."""
    parts = urlsplit(host)
    if parts.scheme == "https" or insecure:
        return
    name = (parts.hostname or "").lower()
    loopback = name == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(name).is_loopback
    if not loopback:
        raise ConfigError(f"plain http to {parts.hostname} would send the Airflow credentials in clear: use https "
                          "(or set insecure: true on a network you trust)", key="input airflow-host")


def _raw_dotenv(environ: Mapping[str, str]) -> str:
    return (environ.get("INPUT_DOTENV") or "").strip()


def main() -> None:
    _setup_logging()
    sys.exit(ActionRun(os.environ).run())


if __name__ == "__main__":
    main()
