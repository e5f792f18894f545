"""Real containers for the tests: a Docker engine, a registry with password auth, base images, and
the action image built from the repository's Dockerfile. Started once per session (the
``docker_stack`` fixture of conftest) and stopped with it; only what this module started is stopped.

- Engine: the one `docker` already reaches, else Debian's dockerd started here (root only) with its
  own data root under the cache folder (images survive between runs), no bridge network and no
  iptables: containers use ``--network host`` or ``--network none`` (docs/action.md).
- Base images: the public ones when the engine can pull them, else local stand-ins made from Debian
  packages by scripts/local-images.sh (cached by recipe). ``KAF_BASE_IMAGES=public|local`` forces one.
- Registry: Debian's docker-registry on 127.0.0.1 with an htpasswd (bcrypt) user: real login, push, pull.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from servers import free_port, start, stop

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("KAF_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
             / "kedro-af-ci")
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
PUBLIC_PYTHON = "python:3.12.8-slim-bookworm"  # the action Dockerfile's default PYTHON_IMAGE
PUBLIC_PROJECT_BASE = "python:3.11-slim-bookworm"  # the project Dockerfile's default BASE_IMAGE
PUBLIC_DOCKER_CLI = "docker:27.4.1-cli"


def docker(*args: str, check: bool = True, timeout: float = 900, input: str | None = None,
           env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, input=input,
                            env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def buildkit_steps(log: str) -> list[tuple[str, list[str]]]:
    """BuildKit's plain progress as (instruction, the step's other lines), in order: `#7 [3/9] RUN …`, `#7 CACHED`."""
    steps: dict[str, tuple[str, list[str]]] = {}
    for number, text in re.findall(r"^#(\d+) (.*)$", log, flags=re.M):
        header = re.match(r"\[(?:[\w-]+ )?\s*\d+/\d+\] (.*)", text)
        if header and number not in steps:
            steps[number] = (header.group(1), [])
        elif number in steps:
            steps[number][1].append(text.strip())
    return list(steps.values())


def engine_up(host: str | None = None) -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return docker("version", "--format", "{{.Server.Version}}", check=False, timeout=20,
                      env={"DOCKER_HOST": host} if host else None).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def start_engine(folder: Path, data_root: Path | None = None, host: str = "unix:///var/run/docker.sock",
                 exec_root: Path | None = None) -> subprocess.Popen | None:
    """dockerd with its own data root and no bridge network, when this process may start one; None otherwise.

    The default is the session's engine (images cached between runs); a benchmark passes an empty data root,
    its own exec root and socket to play a runner that has never seen an image (benchmarks/container.py).
    """
    dockerd = shutil.which("dockerd") or ("/usr/sbin/dockerd" if Path("/usr/sbin/dockerd").exists() else None)
    if dockerd is None or os.geteuid() != 0:
        return None
    data_root = data_root or CACHE / "docker"
    data_root.mkdir(parents=True, exist_ok=True)
    second = ["--exec-root", str(exec_root)] if exec_root else []
    proc = start([dockerd, "--data-root", str(data_root), *second, "--pidfile", str(folder / "dockerd.pid"),
                  "--host", host, "--bridge=none", "--iptables=false",
                  "--ip-forward=false", "--ip-masq=false"], folder / "dockerd.log")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dockerd exited: {(folder / 'dockerd.log').read_text()[-2000:]}")
        if engine_up(host):
            return proc
        time.sleep(0.5)
    stop(proc)
    raise RuntimeError("dockerd did not answer within 60 s")


def _can_pull(image: str) -> bool:
    if docker("image", "inspect", image, check=False).returncode == 0:
        return True
    return docker("pull", image, check=False, timeout=120).returncode == 0


def base_images() -> dict[str, str]:
    """Build arguments naming the base images: the public defaults, or their local stand-ins."""
    mode = os.environ.get("KAF_BASE_IMAGES", "auto")
    if mode == "public" or (mode == "auto" and _can_pull(PUBLIC_PYTHON)):
        return {"PYTHON_IMAGE": PUBLIC_PYTHON, "DOCKER_CLI_IMAGE": PUBLIC_DOCKER_CLI, "BASE_IMAGE": PUBLIC_PROJECT_BASE}
    script = str(ROOT / "scripts" / "local-images.sh")
    made = {kind: subprocess.run(["bash", script, kind], check=True, capture_output=True, text=True,
                                 timeout=900).stdout.strip() for kind in ("python", "docker-cli")}
    return {"PYTHON_IMAGE": made["python"], "DOCKER_CLI_IMAGE": made["docker-cli"], "BASE_IMAGE": made["python"]}


@dataclass
class Registry:
    host: str  # 127.0.0.1:PORT
    username: str
    password: str
    proc: subprocess.Popen

    def tags(self, repository: str) -> list[str]:
        answer = requests.get(f"http://{self.host}/v2/{repository}/tags/list", auth=(self.username, self.password),
                              timeout=10)
        return answer.json().get("tags") or [] if answer.status_code == 200 else []

    def manifest(self, repository: str, tag: str) -> requests.Response:
        return requests.get(f"http://{self.host}/v2/{repository}/manifests/{tag}", timeout=10,
                            auth=(self.username, self.password),
                            headers={"Accept": MANIFEST_V2})


    def push(self, repository: str, content: str, *tags: str) -> str:
        """An image of one config blob (no layers) under ``tags``, through the HTTP API (no engine);
        its manifest digest."""
        auth, base = (self.username, self.password), f"http://{self.host}/v2/{repository}"
        blob = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"c": content}},
                           "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        blob_digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        location = requests.post(f"{base}/blobs/uploads/", auth=auth, timeout=10).headers["Location"]
        location = location if location.startswith("http") else f"http://{self.host}{location}"
        requests.put(location, params={"digest": blob_digest}, data=blob, auth=auth, timeout=10).raise_for_status()
        manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_V2,
                               "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                          "size": len(blob), "digest": blob_digest}, "layers": []}).encode()
        for tag in tags:
            requests.put(f"{base}/manifests/{tag}", data=manifest, auth=auth, timeout=10,
                         headers={"Content-Type": MANIFEST_V2}).raise_for_status()
        return "sha256:" + hashlib.sha256(manifest).hexdigest()


def start_registry(folder: Path) -> Registry:
    import bcrypt

    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    from conftest import secret

    username, password = "kaf-ci", secret("reg-" + secrets.token_hex(12))
    htpasswd = folder / "htpasswd"
    htpasswd.write_text(f"{username}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()}\n")
    port = free_port()
    config = folder / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage: {{filesystem: {{rootdirectory: {folder / 'storage'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}', secret: {secrets.token_hex(16)}}}\n"
        f"auth: {{htpasswd: {{realm: kaf-tests, path: {htpasswd}}}}}\n"
    )
    proc = start([binary, "serve", str(config)], folder / "registry.log")
    host = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {(folder / 'registry.log').read_text()[-2000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"http://{host}/v2/", timeout=2).status_code == 401:
                return Registry(host, username, password, proc)
        time.sleep(0.3)
    stop(proc)
    raise RuntimeError("docker-registry did not answer within 30 s")


def action_image_ref() -> str:
    """The image action.yml runs (docker://...), which this session builds from the Dockerfile."""
    import yaml

    image = yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["image"]
    assert image.startswith("docker://"), image
    return image.removeprefix("docker://")


@dataclass
class DockerStack:
    base: dict[str, str]
    registry: Registry
    action_image: str
    folder: Path
    engine: subprocess.Popen | None = None
    build_seconds: float = 0.0
    cleanup_volumes: list[str] = field(default_factory=list)

    def build_args(self, *names: str) -> list[str]:
        args = []
        for name in names:
            args += ["--build-arg", f"{name}={self.base[name]}"]
        return args

    def login(self, env: dict | None = None) -> None:
        docker("login", self.registry.host, "--username", self.registry.username, "--password-stdin",
               input=self.registry.password, env=env)

    def volume_files(self, volume: str) -> dict[str, int]:
        """Files in a Docker volume (path -> size), read through the engine as a user would."""
        self.cleanup_volumes.append(volume)
        out = docker("run", "--rm", "--network", "none", "-v", f"{volume}:/v:ro", "--entrypoint", "find",
                     self.base["PYTHON_IMAGE"], "/v", "-type", "f", "-printf", "%P\t%s\n").stdout
        return {path: int(size) for path, size in (line.split("\t") for line in out.splitlines() if line)}

    def ensure_gitlab_util(self) -> None:
        """gitlab-ci-local copies files with firecow/gitlab-ci-local-util (rsync): pulled, or the stand-in."""
        if not _can_pull("firecow/gitlab-ci-local-util:latest"):
            subprocess.run(["bash", str(ROOT / "scripts" / "local-images.sh"), "gitlab-util"], check=True,
                           capture_output=True, timeout=900)

    def stop(self) -> None:
        for volume in self.cleanup_volumes:
            docker("volume", "rm", "-f", volume, check=False)
        stop(self.registry.proc)
        if self.engine is not None:
            stop(self.engine)


def build_action_image(base: dict[str, str], ref: str) -> float:
    started = time.monotonic()
    docker("build", "--network", "host", "--build-arg", f"PYTHON_IMAGE={base['PYTHON_IMAGE']}",
           "--build-arg", f"DOCKER_CLI_IMAGE={base['DOCKER_CLI_IMAGE']}", "--tag", ref, str(ROOT), timeout=1800)
    return time.monotonic() - started


def start_stack(folder: Path) -> DockerStack | None:
    """Everything above, or None when no engine is reachable and none can be started here."""
    engine = None if engine_up() else start_engine(folder)
    if engine is None and not engine_up():
        return None
    registry = None
    try:
        base = base_images()
        registry = start_registry(folder)
        ref = action_image_ref()
        seconds = build_action_image(base, ref)
    except BaseException:  # what was started stops with the failure
        if registry is not None:
            stop(registry.proc)
        if engine is not None:
            stop(engine)
        raise
    return DockerStack(base=base, registry=registry, action_image=ref, folder=folder, engine=engine,
                       build_seconds=seconds)
