"""Attacks planted in a repository by whoever can push a branch (issue: security hardening); each
test that uses one also shows the attack works where the defence is absent."""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from conftest import git

SHADOWS = ("yaml", "click", "pydantic", "jinja2", "requests", "kedro_af_ci")


def plant_shadow_modules(folder: Path) -> Path:
    """Modules named like the tool's imports, which would run if the workspace were on sys.path."""
    marker = folder / "PWNED-by-shadow-module"
    for name in SHADOWS:
        (folder / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write({name!r})\nraise SystemExit(99)\n")
    return marker


def plant_bare_repository(project: Path, marker: Path) -> None:
    """Make the project folder itself a git repository (HEAD, objects, refs, config) whose config runs
    a command through core.fsmonitor and whose HEAD names another commit."""
    evil = project.parent / "evil-src"
    git(project.parent, "init", "-q", "--bare", "-b", "evil-branch", str(evil))
    clone = project.parent / "evil-clone"
    git(project.parent, "clone", "-q", str(evil), str(clone))
    (clone / "x").write_text("x")
    git(clone, "add", "x")
    git(clone, "commit", "-qm", "chosen by the attacker")
    git(clone, "push", "-q", "origin", "HEAD:evil-branch")
    for item in evil.iterdir():
        target = project / item.name
        shutil.copytree(item, target) if item.is_dir() else shutil.copy(item, target)
    (project / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = .\n"
                                     f"\tfsmonitor = \"touch {marker}; false\"\n")
    shutil.rmtree(evil)
    shutil.rmtree(clone)



class RecordingServer:
    """An HTTP server on loopback that records every request and answers with ``answer(method, path)``."""

    def __init__(self, answer):
        self.seen: list[tuple[str, str, dict, bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.seen.append((self.command, self.path, dict(self.headers), body))
                status, headers, payload = answer(self.command, self.path)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = do_HEAD = do_PUT = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
