"""The docker CLI, driven through argument lists (never a shell): build, login, push, run.

The action's container talks to the runner's Docker engine through its socket. Every failure is a
:class:`BuildError` naming the command, with the tail of docker's own output.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BuildError, ConfigError

log = logging.getLogger(__name__)

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"^(?:(?P<domain>[a-zA-Z0-9.-]+(?::[0-9]+)?)/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>\w[\w.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?\Z"
)


def image_ref(image: str, commit_id: str) -> str:
    """``repo`` → ``repo:<commit>``; ``repo:tag`` and ``repo@sha256:…`` stay as they are."""
    image = image.strip()
    match = _REFERENCE.match(image)
    if not match or len(image) > 255:
        raise ConfigError(f"{image[:80]!r} is not a Docker image reference (registry/name[:tag])", key="input image")
    if match["tag"] or match["digest"]:
        return image
    return f"{image}:{commit_id}"


def tag_of(ref: str) -> str | None:
    """The tag of ``repo:tag`` (None for a digest or no tag)."""
    match = _REFERENCE.match(ref.strip())
    return match["tag"] if match and not match["digest"] else None


def repository_of(ref: str) -> str:
    """``registry/name`` of a reference, without its tag or digest."""
    name = ref.split("@", 1)[0]
    return name[:name.rfind(":")] if ":" in name.rsplit("/", 1)[-1] else name


TAG_LIMIT = 128  # the registry's limit on a tag's length
BRANCH_PREFIX, RECORD_PREFIX = "kaf-branch-", "kaf-graph-"


def branch_tag(branch: str, prefix: str = BRANCH_PREFIX) -> str:
    """The moving tag of a branch's latest image (``kaf-branch-``) or of its code-only record (``kaf-graph-``):
    one-to-one with the branch name (k8s_names.one_to_one), so no branch can be named to read, overwrite or
    delete another branch's tags."""
    from ..vocabulary.k8s_names import one_to_one

    return prefix + one_to_one(branch, TAG_LIMIT - len(prefix))


def registry_of(ref: str) -> str:
    """Registry host of an image reference (docker.io when the first part is not a host)."""
    first, sep, _ = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


_NOTICES = ("DEPRECATED: The legacy builder is deprecated", "Install the buildx component",
            "https://docs.docker.com/go/buildx/", "WARNING: IPv4 forwarding is disabled")


def _without_notices(text: str) -> str:
    """docker's own notices, which say nothing about why a command failed."""
    return "\n".join(line for line in text.strip().splitlines()
                     if line.strip() and not any(n in line for n in _NOTICES))


@dataclass
class Docker:
    executable: str = "docker"
    # around every docker command: its output is the branch's (a Dockerfile's RUN prints anything)
    quarantine: Callable[[], contextlib.AbstractContextManager[Any]] = field(default=contextlib.nullcontext)

    @classmethod
    def find(cls) -> Docker | None:
        path = shutil.which("docker")
        return cls(path) if path else None

    def _run(self, args: list[str], *, what: str, stdin: str | None = None, capture: bool = False,
             timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        log.debug("docker %s", " ".join(args[:2]))
        try:
            # captured output is only ever shown escaped (in an error): no need to quarantine it
            with self.quarantine() if not capture else contextlib.nullcontext():
                proc = subprocess.run([self.executable, *args], input=stdin, text=True, timeout=timeout,
                                      stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE)
                if proc.stderr and not capture and proc.returncode == 0:
                    print(proc.stderr, end="", flush=True)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BuildError(f"{what} failed: {exc}") from None
        if proc.returncode != 0:
            tail = "\n".join(_without_notices(proc.stderr or "").splitlines()[-15:])
            raise BuildError(f"{what} failed (docker exit code {proc.returncode})" + (f":\n{tail}" if tail else ""))
        return proc

    def _succeeds(self, args: list[str], *, what: str, timeout: float) -> bool:
        """Whether a query command succeeds; why not goes to the debug log (its answer is the False)."""
        try:
            self._run(args, what=what, capture=True, timeout=timeout)
        except BuildError as exc:
            log.debug("%s", exc)
            return False
        return True

    def available(self) -> bool:
        """True when the CLI reaches an engine (the socket is mounted and answers)."""
        return self._succeeds(["version", "--format", "{{.Server.Version}}"], what="docker version", timeout=30)

    def build(self, ref: str, *, context: str, dockerfile: str, build_args: list[str], labels: dict[str, str],
              network: str = "", cache_from: list[str] | None = None) -> None:
        args = ["build", "--file", dockerfile, "--tag", ref] + (["--network", network] if network else [])
        for source in cache_from or []:  # layers of images pulled from the registry (the classic builder's cache)
            args += ["--cache-from", source]
        for arg in build_args:
            args += ["--build-arg", arg]
        for key, value in labels.items():
            args += ["--label", f"{key}={value}"]
        self._run([*args, context], what=f"docker build of {ref}")

    def login(self, registry: str, username: str, password: str) -> None:
        # the password goes through stdin: never on a command line that `ps` or a log could show
        self._run(["login", registry, "--username", username, "--password-stdin"], what=f"docker login to {registry}",
                  stdin=password, capture=True)

    def push(self, ref: str) -> None:
        self._run(["push", ref], what=f"docker push of {ref}")

    def tag(self, source: str, target: str) -> None:
        self._run(["tag", source, target], what=f"docker tag of {target}", capture=True)

    def buildkit(self, environ: Mapping[str, str] | None = None) -> bool:
        """True when `docker build` goes through BuildKit, decided as the CLI decides it: DOCKER_BUILDKIT when
        set, else BuildKit by default from CLI 23.0 when buildx is installed (a 20.10 CLI builds with the
        classic builder even beside buildx). The BuildKit path needs buildx itself: the layer cache is
        looked up in the registry through it."""
        setting = (os.environ if environ is None else environ).get("DOCKER_BUILDKIT", "").strip().lower()
        if setting in ("0", "false") or not self._succeeds(["buildx", "version"], what="docker buildx version",
                                                             timeout=30):
            return False
        return setting in ("1", "true") or self.client_major() >= 23

    def client_major(self) -> int:
        """The docker CLI's major version (0 when it does not say); the CLI answers even without an engine."""
        try:
            proc = subprocess.run([self.executable, "version", "--format", "{{.Client.Version}}"], text=True,
                                  capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return 0
        major = re.match(r"\s*v?(\d+)\.", proc.stdout or "")
        return int(major.group(1)) if major else 0

    def in_registry(self, ref: str, timeout: float = 60) -> bool:
        """True when the registry has ``ref`` (its manifest, read by buildx; no layer comes down)."""
        return self._succeeds(["buildx", "imagetools", "inspect", "--raw", ref],
                              what=f"docker buildx imagetools inspect of {ref}", timeout=timeout)

    def pull(self, ref: str, timeout: float = 600) -> bool:
        """Pull ``ref``; False when the registry has no such image (or cannot be reached)."""
        return self._succeeds(["pull", "--quiet", ref], what=f"docker pull of {ref}", timeout=timeout)

    def save(self, ref: str, timeout: float = 300) -> bytes:
        """``docker save`` of a small image (a code layer), as the tar stream."""
        try:
            proc = subprocess.run([self.executable, "save", ref], capture_output=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BuildError(f"docker save of {ref} failed: {exc}") from None
        if proc.returncode != 0:
            raise BuildError(f"docker save of {ref} failed: {_without_notices(proc.stderr.decode(errors='replace'))}")
        return proc.stdout

    def save_to(self, ref: str, path: Path, timeout: float = 1800) -> None:
        """``docker save`` of ``ref`` into the file ``path`` (an image of any size)."""
        self._run(["save", "--output", str(path), ref], what=f"docker save of {ref}", timeout=timeout)

    def remove(self, ref: str) -> None:
        self._succeeds(["image", "rm", "--force", ref], what=f"docker image rm of {ref}", timeout=60)

    def run_python(self, ref: str, script: str, args: list[str], *, workdir: str, env: dict[str, str],
                   timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """Run ``python - ARGS`` in the image, ``script`` on stdin, without network; the caller reads the result."""
        cmd = [self.executable, "run", "--rm", "-i", "--network", "none", "--entrypoint", "python",
               "--workdir", workdir]
        for key, value in env.items():
            cmd += ["--env", f"{key}={value}"]
        try:
            return subprocess.run([*cmd, ref, "-", *args], input=script, text=True, capture_output=True,
                                  timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BuildError(f"graph extraction in {ref} failed: {exc}") from None
