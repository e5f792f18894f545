"""The action's steps, in flow order, sharing one :class:`RunContext`.

inputs → git → config → the workflow's settings present (in CI) → config narrowed to them → build →
extract → compile (with the pre-flight) → push → Airflow → dry-run file, upload or run-once; the
report is written by the caller whatever happened. Each step reads only what an earlier one put in
the context, so git and the plugin config are read once, and the graph reaches the compile in
memory. The order is the guarantee: an image is pushed, and a DAG uploaded, only after that DAG
passed the pre-flight; a failure stops the run before either. With ``delete: true`` the steps are
git → delete the branch's DAG.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BuildError, ConfigError, GraphError, KafError, RunFailed
from ..image.docker import Docker, branch_tag, image_ref, registry_of, repository_of
from .ci import Reporter
from .inputs import ActionInputs
from .summary import SummaryData

if TYPE_CHECKING:
    from ..compiler.pipeline import CompileResult
    from ..config import PluginConfig
    from ..deliver.client import AirflowClient
    from ..deliver.deploy import RunOutcome
    from ..gitinfo.commit import GitInfo
    from ..graph.model import PipelineGraph
    from ..image.isolated import Runner
    from ..policy.model import DeploymentPolicy
    from .code_only import CodeLayerPlan, CodeOnlyImage, CodeOnlyRun, CodeState

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
    from ..guards.redact import forms

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
    from ..gitinfo.commit import is_tracked

    if is_tracked(workspace, candidate):
        log.warning("GOOGLE_APPLICATION_CREDENTIALS: ignoring %s, which is committed in the repository, not "
                    "written by this run", candidate.name)
        return
    os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = str(candidate)
    log.info("GOOGLE_APPLICATION_CREDENTIALS: using %s (the runner's path is not visible here)", candidate)


def read_git(ctx: RunContext) -> None:
    """Commit and branch, read once, from the CI's checkout only (a repository committed into the
    project is never read): the config's substitutions and the compile reuse them."""
    from ..gitinfo.commit import read_git_info

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
    from ..config import load_config

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
    from ..policy.model import load_policy

    ctx.trusted_host, ctx.host_source = _trusted_host(ctx.inputs, ctx.environ)
    ctx.policy = load_policy(ctx.inputs.deployment)
    if ctx.inputs.output:
        ctx.policy = ctx.policy.model_copy(update={"output": ctx.inputs.output})


# What CI must be given, by the variable the generated workflows read it from (init prints them)
CI_VARIABLES = {"image": "KAF_IMAGE", "output": "KAF_DAGS_OUTPUT", "host": "AIRFLOW_HOST"}


def check_ci_settings(ctx: RunContext) -> None:
    """In CI, a run that would deploy nowhere, push a placeholder or have no Airflow to run on is an
    error before anything is built, naming every variable left to set at once."""
    from ..guards.trust import in_ci

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
    from ..gitinfo.commit import default_branch
    from ..policy.settings import destination
    from ..policy.targets import Aimed, production_targets_hit

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
    from ..policy.settings import narrow

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
    from ..policy.settings import destination

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


def build_image(ctx: RunContext) -> None:
    """Build the project image, labelled with its commit. Without a build, an existing image may
    still host the graph extraction (when an engine answers and nodes run in containers)."""
    ctx.docker = docker = Docker.find()
    if docker is not None:
        docker.quarantine = ctx.reporter.untrusted
    if not ctx.inputs.build:
        ctx.image_runs = (bool(ctx.image) and docker is not None and ctx.config.run_config.execution != "local"
                          and docker.available())
        return
    if not ctx.image:
        raise ConfigError("no image to build: set the image input or run_config.image", key="input image")
    if docker is None or not docker.available():
        raise BuildError("cannot build: no Docker engine is reachable (mount /var/run/docker.sock, or set "
                         "build: false to use an existing image)")
    inputs = ctx.inputs
    with ctx.reporter.section(f"Build {ctx.image}"), _build_context(ctx) as (context, dockerfile):
        deploying = inputs.push and not (inputs.dry_run or inputs.package)  # the layer cache serves runs that push
        if deploying and _code_only(ctx, docker, context, dockerfile):
            ctx.image_runs = False  # made in the registry at push: never on this engine
            return
        buildkit = deploying and docker.buildkit()
        cached = _layer_cache(ctx, docker, buildkit) if deploying else []
        # BuildKit writes the cache metadata into the image, so the next build reads it from the registry
        inline = ["BUILDKIT_INLINE_CACHE=1"] if buildkit else []
        docker.build(ctx.image, context=str(context), dockerfile=str(dockerfile),
                     build_args=[*inline, *inputs.build_args], network=inputs.build_network, cache_from=cached,
                     labels={"org.opencontainers.image.revision": ctx.git.commit_id,
                             "org.opencontainers.image.ref.name": ctx.git.branch_name[:128]})
    ctx.summary.built = ctx.image_runs = True
    ctx.summary.cache_from = cached


def _code_only(ctx: RunContext, docker: Docker, context: Path, dockerfile: Path) -> bool:
    """True when the image is made in the registry instead (action/code_only.py): nothing to build."""
    from .code_only import prepare

    ctx.code = prepare(_code_only_run(ctx), docker, context, dockerfile)
    return ctx.code is not None and ctx.code.image is not None


def _code_only_run(ctx: RunContext) -> CodeOnlyRun:
    """What code-only deploys need of this run, as values (action/code_only.py never sees the context)."""
    from ..config.spark import ClusterSpark
    from ..gitinfo.commit import default_branch
    from .code_only import CodeOnlyRun

    def decided(text: str) -> None:
        ctx.summary.code_only = text
        ctx.reporter.line(f"Code-only deploy: {text}")

    spark = ctx.config.run_config.spark
    return CodeOnlyRun(ctx.inputs, ctx.image, ctx.git, default_branch(ctx.environ), ctx.config.run_config.project_path,
                       custom_factory=isinstance(spark, ClusterSpark) and spark.operator_factory is not None,
                       log=ctx.reporter.line, decided=decided)


def _layer_cache(ctx: RunContext, docker: Docker, buildkit: bool) -> list[str]:
    """The images whose layers the build may reuse, where the registry has them: a runner starts with an empty
    engine. BuildKit reads their layers from the registry by --cache-from (the inline cache metadata), only
    those the build reuses; the classic builder reuses only layers it holds, so there they are pulled first,
    whole. A branch takes its latest image and the default branch's; the default branch only the image its own
    authenticated record names (action/records.py), never a tag a branch's job could have written."""
    _login(ctx, docker)
    found = [ref for ref in _cache_candidates(ctx) if (docker.in_registry(ref) if buildkit else docker.pull(ref))]
    how = "read from the registry by BuildKit" if buildkit else "pulled for the classic builder"
    ctx.reporter.line(f"Layer cache: {', '.join(found) + f' ({how})' if found else 'none yet (a cold build)'}")
    return found


def _cache_candidates(ctx: RunContext) -> list[str]:
    from ..gitinfo.commit import default_branch
    from .records import Readers

    readers = Readers(ctx.git.branch_name, default_branch(ctx.environ), ctx.inputs.record_key)
    repository = repository_of(ctx.image)
    if not readers.production:
        return list(dict.fromkeys(f"{repository}:{branch_tag(b)}" for b in (readers.branch, readers.default_branch)))
    cache = ctx.code.cache if ctx.code is not None else None
    if cache is None:
        ctx.reporter.line("Layer cache: the default branch takes none from the registry but the image its own "
                          "authenticated record names (record-key), and it has none")
        return []
    return [f"{repository}@{cache}"]


def _login(ctx: RunContext, docker: Docker) -> None:
    """Log in to the registry once, with the password on stdin (docker.login)."""
    inputs = ctx.inputs
    if inputs.registry_username and inputs.registry_password and not ctx.logged_in:
        docker.login(inputs.registry or registry_of(ctx.image), inputs.registry_username, inputs.registry_password)
        ctx.logged_in = True


@contextlib.contextmanager
def _build_context(ctx: RunContext) -> Iterator[tuple[Path, Path]]:
    """The build context and Dockerfile as the commit holds them, in a temporary folder, minus
    credential files: never the workspace, where CI steps leave tokens (gitinfo/source_tree.py)."""
    from ..gitinfo.source_tree import commit_blob, export_commit
    from ..guards.trust import in_ci

    inputs, project = ctx.inputs, ctx.project
    context = (project / inputs.build_context).resolve() if inputs.build_context else project
    dockerfile = (project / inputs.dockerfile).resolve()
    checkout = ctx.workspace.resolve() if (ctx.workspace / ".git").is_dir() else None
    if checkout is None:
        if in_ci(ctx.environ):
            raise BuildError(f"the project image is built from the commit, and {ctx.workspace} is no git checkout: "
                             "check the repository out into the workspace first")
        log.warning("%s is no git checkout: the image is built from the folder as it is", ctx.workspace)
        yield context, dockerfile
        return
    commit = ctx.git.commit_id
    with tempfile.TemporaryDirectory(prefix="kaf-build-") as folder:
        root = Path(folder)
        export_commit(checkout, commit, _inside(checkout, context, "input build-context"), root / "context")
        text = commit_blob(checkout, commit, _inside(checkout, dockerfile, "input dockerfile"))
        if text is None:
            raise BuildError(f"{dockerfile.relative_to(checkout)} is not in commit {commit[:12]}: the image is built "
                             "from the commit, so commit the Dockerfile")
        (root / "Dockerfile").write_bytes(text)
        yield root / "context", root / "Dockerfile"


def _inside(checkout: Path, path: Path, key: str) -> str:
    if not path.is_relative_to(checkout):
        raise ConfigError(f"{path} is outside the repository {checkout}", key=key)
    return path.relative_to(checkout).as_posix()


def extract_graph(ctx: RunContext) -> None:
    """Read the pipeline graph where the project's code may run, never in this process (it holds
    the secrets)."""
    from ..image.graph_in_image import extract_traced, extract_with

    code = ctx.code
    if code is not None and code.image is not None:
        ctx.runner, ctx.graph = None, code.image.graph
        ctx.summary.graph_source = f"reused from {code.image.previous} (code-only deploy)"
        ctx.reporter.line(f"Pipeline graph: {ctx.summary.graph_source}")
        return
    with ctx.reporter.section("Pipeline graph"):
        ctx.runner = runner = _runner(ctx)
        ctx.reporter.line(f"Extracting the pipeline graph in {runner.where}")
        if code is not None:  # what it runs and reads is recorded for the next code-only deploy
            ctx.graph, ctx.trace = extract_traced(runner, ctx.inputs.pipeline, ctx.inputs.env)
        else:
            ctx.graph = extract_with(runner, ctx.inputs.pipeline, ctx.inputs.env)
        ctx.summary.graph_source = f"extracted in {runner.where}"


def _runner(ctx: RunContext) -> Runner:
    """Where the project's code runs: in the project image, else (opt-in) a cleaned child process."""
    from ..image.isolated import ChildRunner, ImageRunner

    if ctx.image_runs and ctx.docker is not None:  # image_runs says the engine is there
        return ImageRunner(ctx.docker, ctx.image, ctx.config.run_config.project_path)
    if not ctx.inputs.extract_without_docker:
        raise GraphError("no project image to read the pipeline graph in (no Docker engine, or execution local): "
                         "the project's code never runs in the action's process, which holds the secrets. "
                         "Mount the Docker socket (with build: true, or an existing image), or set "
                         "extract-without-docker: true if you trust the code of every branch")
    return ChildRunner(ctx.project)


def compile_and_verify(ctx: RunContext) -> None:
    """Compile the graph and config already in hand into the DAG, and pre-flight it in Airflow's
    DagBag: the same compile_dag as the CLI, so both produce the same DAG."""
    from ..compiler.pipeline import CompileRequest, compile_dag

    inputs = ctx.inputs
    with ctx.reporter.section("Compile and pre-flight"):
        ctx.result = result = compile_dag(CompileRequest(
            project_path=ctx.project, env=inputs.env, pipeline=inputs.pipeline, graph=ctx.graph, config=ctx.config,
            schedule=None if inputs.run_once else True,  # True: the cron expression of the config (or input)
            run_once=inputs.run_once, verify=inputs.verify, grouping=inputs.group_by, git=ctx.git,
            spark_factory=_factory_in(ctx.runner), policy=ctx.policy))
        for warning in result.dag.warnings:
            ctx.reporter.warning(warning)
        summary = ctx.summary
        summary.dag_id = ctx.dag_id
        summary.tasks = [t.task_id for t in result.plan.tasks]
        summary.edges = list(result.plan.edges)
        if result.artifacts is not None:
            summary.archive_files = list(result.artifacts.packed)
        ctx.output("dag-id", ctx.dag_id)
        checked = "loaded in Airflow's DagBag" if result.verification.checked \
            else "skipped (verify: false): the DAG was not checked in Airflow before it left"
        summary.preflight = checked
        ctx.reporter.line(f"DAG {ctx.dag_id!r}: {len(result.plan.tasks)} task(s), {result.dag.content_tag}; "
                          f"pre-flight: {checked}")


def _factory_in(runner: Runner | None):
    """A custom Spark operator factory is project code: it runs where the graph was read (never on a
    code-only deploy, action/code_only.py)."""
    from ..image.isolated import run_job
    from ..spark_factory.wire import factory_output, factory_request

    def run(class_path, settings, jobs):
        if runner is None:
            raise BuildError("the Spark operator factory needs the project image, which this run did not build")
        def error(message: str) -> ConfigError:
            return ConfigError(f"the Spark operator factory {class_path!r} failed {message}",
                               key="run_config.spark.operator_factory")

        return factory_output(run_job(runner, "spark-factory", factory_request(class_path, settings, jobs), error))

    return run


def push_image(ctx: RunContext) -> None:
    """Push the built image: only here, after its DAG passed the pre-flight, and never on a dry run."""
    inputs, docker = ctx.inputs, ctx.docker
    if not (inputs.build and inputs.push and not inputs.dry_run) or docker is None:
        return
    code = ctx.code
    with ctx.reporter.section(f"Push {ctx.image}"):
        if code is not None and code.image is not None:
            _push_code_only(ctx, code.plan, code.image)
        else:
            _login(ctx, docker)
            docker.push(ctx.image)
            latest = f"{repository_of(ctx.image)}:{branch_tag(ctx.git.branch_name)}"  # the branch's next build
            docker.tag(ctx.image, latest)
            docker.push(latest)
            if code is not None and ctx.trace is not None:
                _record_build(ctx, code)
    ctx.summary.pushed = True


def _push_code_only(ctx: RunContext, plan: CodeLayerPlan, image: CodeOnlyImage) -> None:
    from ..deliver.registry import RegistryRefused
    from .code_only import push

    try:
        push(_code_only_run(ctx), plan, image)
    except RegistryRefused as exc:
        raise BuildError(f"pushing the code-only image to the registry failed: {exc}") from None
    ctx.reporter.line(f"Pushed {ctx.image}: the layers of {image.previous} and a new code layer "
                      f"({len(image.layer.gzipped) / 1e3:,.0f} kB)")


def _record_build(ctx: RunContext, code: CodeState) -> None:
    """The record the branch's next code-only deploy starts from; without it that deploy builds."""
    from ..deliver.registry import RegistryRefused
    from .code_only import record_build

    try:
        record_build(_code_only_run(ctx), code.plan, ctx.trace, ctx.graph)
    except RegistryRefused as exc:
        ctx.reporter.warning(f"no code-only record for the next deploy (the registry: {exc}): it will build")


def connect_airflow(ctx: RunContext) -> None:
    """A client of the config's Airflow host. Run-once sends the credentials, so its host must be one
    the workflow named; a host only airflow-k8s.yaml names gets no credential."""
    host = ctx.config.host
    if host:
        ctx.summary.airflow_host = f"{host} ({ctx.host_source or 'airflow-k8s.yaml: no credential is sent to it'})"
    if ctx.inputs.run_once and host and not ctx.trusted_host:
        raise ConfigError("run-once sends the Airflow credentials, so the host must come from the workflow: set "
                          "the airflow-host input (or AIRFLOW_HOST) from a protected setting such as a "
                          "repository variable; airflow-k8s.yaml's host is a branch's to change",
                          key="input airflow-host")
    ctx.client = _client(ctx, host, credentials=bool(ctx.trusted_host))


def link_dag(ctx: RunContext) -> None:
    """The DAG's URL for the outputs and the summary. Only run-once needs Airflow: otherwise one quick
    try (no retries, no credential) is enough, and a failure is a warning."""
    if ctx.client is None or ctx.inputs.dry_run:
        return
    run_once = ctx.inputs.run_once
    linker = ctx.client if run_once else _client(ctx, ctx.config.host, credentials=False, retries=0, timeout=5)
    try:
        ctx.summary.dag_url = linker.dag_url(ctx.dag_id)
        ctx.output("dag-url", ctx.summary.dag_url)
    except KafError as exc:
        if run_once:
            raise
        ctx.reporter.warning(f"cannot reach Airflow for the DAG's URL: {exc}")


def _client(ctx: RunContext, host: str | None, *, credentials: bool, **options):
    """A client of ``host``; it holds the credentials only for a host the workflow named."""
    if not host:
        return None
    from ..deliver.client import airflow_client

    environ = {**ctx.environ, "AIRFLOW_API_TOKEN": ctx.inputs.airflow_token}
    return airflow_client(host, ctx.inputs.insecure, environ=environ, credentials=credentials,
                          host_key="input airflow-host", **options)


def write_dry_run(ctx: RunContext) -> None:
    """A dry run ends with the DAG file in the project: nothing pushed, uploaded or triggered."""
    if not ctx.inputs.dry_run:
        return
    from ..compiler.pipeline import default_output
    from ..deliver.fileio import atomic_write_text

    target = default_output(ctx.project, ctx.dag_id)
    atomic_write_text(target, ctx.result.dag.source)
    ctx.summary.dag_file = str(target)
    ctx.output("dag-file", str(target))
    ctx.reporter.line(f"Dry run: wrote {target}; nothing pushed, uploaded or triggered")


def upload(ctx: RunContext) -> None:
    """Without run-once: the Spark artifacts, then the DAG, where Airflow reads DAGs (its schedule runs it)."""
    if ctx.inputs.dry_run or ctx.inputs.run_once:
        return
    from ..deliver.upload import upload_artifacts, upload_dag

    destination = _destination(ctx)
    with ctx.reporter.section("Upload"):
        upload_artifacts(ctx.result.artifacts)
        uploaded = upload_dag(ctx.result.dag.source, destination, f"{ctx.dag_id}.py")
    _uploaded(ctx, uploaded.location)


def run_once(ctx: RunContext) -> None:
    """Upload, wait until Airflow serves this version, trigger it, and (with wait) fail unless it succeeds."""
    if ctx.inputs.dry_run or not ctx.inputs.run_once:
        return
    from ..deliver.deploy import deploy_and_run, failure_message

    inputs, result = ctx.inputs, ctx.result
    destination = _destination(ctx)
    if ctx.client is None:
        raise ConfigError("run-once needs the Airflow host: set host in airflow-k8s.yaml or the airflow-host "
                          "input", key="host")
    with ctx.reporter.section("Upload and run once"):
        outcome = deploy_and_run(ctx.client, result.dag.source, ctx.dag_id, result.dag.content_tag, destination,
                                 wait=inputs.wait, timeout=inputs.wait_timeout,
                                 version_timeout=inputs.version_timeout, poll=inputs.poll_interval,
                                 on_uploaded=partial(_uploaded, ctx), artifacts=result.artifacts)
    _record_run(ctx, outcome)
    if inputs.wait and outcome.state != "success":
        raise RunFailed(failure_message(outcome))


def _destination(ctx: RunContext) -> str:
    """The DAG location is the deployment's: the output input (policy/settings.py, destination)."""
    from ..policy.settings import destination

    chosen, notes = destination(ctx.config.output, ctx.policy)
    for note in notes:
        ctx.reporter.warning(note)
    if not chosen:
        raise ConfigError("no DAG location: set the output input (from a repository or environment variable) to "
                          "Airflow's DAGs folder or bucket", key="input output")
    return chosen


def _uploaded(ctx: RunContext, location: str) -> None:
    ctx.summary.dag_file = location
    ctx.output("dag-file", location)
    ctx.reporter.line(f"Uploaded the DAG to {location}")


def _record_run(ctx: RunContext, outcome: RunOutcome) -> None:
    summary = ctx.summary
    summary.run_id, summary.run_state, summary.run_url = outcome.run_id, outcome.state, outcome.run_url
    summary.task_states = outcome.tasks
    ctx.output("run-id", outcome.run_id)
    ctx.output("run-state", outcome.state)
    ctx.reporter.line(f"Run {outcome.run_id} of {ctx.dag_id!r}: {outcome.state} — {outcome.run_url}")


def delete_branch_dag(ctx: RunContext) -> None:
    """Instead of deploying: remove the branch's DAG, its file then its entry in Airflow (deliver/delete.py),
    refusing another branch's DAG, a scheduled one and the default branch's."""
    from ..compiler.project import project_dag_id
    from ..deliver.delete import DeleteRequest, delete_pipeline
    from ..gitinfo.commit import default_branch
    from ..plan.model import BRANCH_TAG, owner_tag, owner_tags
    from ..policy.settings import destination

    inputs = ctx.inputs
    _read_workflow_settings(ctx)
    if inputs.dag_id:
        dag_id, location, host = inputs.dag_id, ctx.policy.output, ctx.trusted_host
    else:
        read_config(ctx)
        apply_policy(ctx)
        dag_id, host = project_dag_id(ctx.config, ctx.project), ctx.trusted_host
        location = destination(ctx.config.output, ctx.policy)[0]
    location = _require_for_delete(location, host)
    client = _client(ctx, host, credentials=True)
    request = DeleteRequest(dag_id=dag_id, destination=location,
                            owner_tags=owner_tags(ctx.git.branch_name, ctx.git.repository),
                            default_branch_tag=owner_tag(BRANCH_TAG, default_branch(ctx.environ)))
    with ctx.reporter.section(f"Delete DAG {dag_id}"):
        outcome = delete_pipeline(client, request)
    ctx.summary.dag_id = dag_id
    ctx.output("dag-id", dag_id)
    said = [f"removed {outcome.file}" if outcome.file else "", "removed from Airflow" if outcome.in_airflow else ""]
    ctx.summary.deleted = "; ".join(part for part in said if part) or "nothing was there"
    ctx.reporter.line(f"Deleted DAG {dag_id!r} of branch {ctx.git.branch_name!r}: {ctx.summary.deleted}")
    ctx.summary.image_cleanup = _remove_branch_image(ctx, client)
    ctx.reporter.line(f"Image: {ctx.summary.image_cleanup}")


def client_for_deployment(ctx: RunContext) -> tuple[AirflowClient, str]:
    """The deployment's Airflow, with its credentials, and its DAGs location: the workflow's settings only."""
    _read_workflow_settings(ctx)
    location = _require_for_delete(ctx.policy.output, ctx.trusted_host)
    return _client(ctx, ctx.trusted_host, credentials=True), location


def _remove_branch_image(ctx: RunContext, client: AirflowClient) -> str:
    """The branch's layer-cache tag, from the registry, when no DAG left in Airflow needs its image
    (deliver/registry.py); what happened, for the summary."""
    from ..deliver.registry import remove_branch_image
    from .code_only import registry_for
    from .records import record_tag

    inputs = ctx.inputs
    if not inputs.image:
        return "not checked: no image input (the branch's image tags are left in the registry)"
    repository, tag = repository_of(image_ref(inputs.image, "latest")), branch_tag(ctx.git.branch_name)
    in_use = {t.removeprefix("commit:") for dag in client.list_dags() for t in dag.tags if t.startswith("commit:")}
    registry, name = registry_for(inputs, repository, "pull,delete")
    said = remove_branch_image(registry, name, tag, in_use).describe(repository, tag)
    record = record_tag(ctx.git.branch_name)  # the code-only record (action/records.py)
    cleanup = remove_branch_image(registry, name, record, in_use)
    return f"{said}; {cleanup.describe(repository, record)}" if cleanup.removed or cleanup.left else said


def _require_for_delete(location: str | None, host: str) -> str:
    """The DAG's location, once both settings a delete needs are there."""
    missing = [f"  {CI_VARIABLES[what]}: {text}" for what, text, ok in (
        ("output", "the DAGs folder or bucket the DAG's file is in", location),
        ("host", "the Airflow to delete the DAG from (its token goes only to a host the workflow names)", host))
        if not ok]
    if missing:
        raise ConfigError("setting(s) of the workflow are missing (set these repository or CI/CD variables):\n"
                          + "\n".join(missing), key="input output" if not location else "input airflow-host")
    assert location is not None  # missing names it otherwise
    return location


Step = Callable[[RunContext], None]
STEPS: tuple[Step, ...] = (read_git, read_config, check_ci_settings, refuse_production_targets, apply_policy,
                           build_image, extract_graph,
                           compile_and_verify, push_image, connect_airflow, link_dag, write_dry_run, upload, run_once)
DELETE_STEPS: tuple[Step, ...] = (read_git, delete_branch_dag)
