"""A stand-in for the few endpoints of GitLab's REST API v4 the trusted deployer reads (no GitLab server runs
here): the project, its branches, its jobs (newest first, paginated as GitLab paginates) and a job's artifacts
zip. It checks the PRIVATE-TOKEN header as GitLab does, and records every request."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class FakeGitLab:
    project: str
    token: str
    default_branch: str = "main"
    branches: dict[str, str] = field(default_factory=dict)  # name: head commit
    jobs: list[dict] = field(default_factory=list)  # newest first, as GitLab lists them
    artifacts: dict[int, bytes] = field(default_factory=dict)  # job id: the zip
    requests: list[str] = field(default_factory=list)

    def add_job(self, job_id: int, branch: str, commit: str, *, name: str = "kedro-airflow-k8s-package",
                zipped: bytes | None = None, tag: bool = False) -> None:
        artifacts = [{"file_type": "archive", "filename": "artifacts.zip"}] if zipped is not None else []
        self.jobs.insert(0, {"id": job_id, "name": name, "ref": branch, "tag": tag, "status": "success",
                             "commit": {"id": commit}, "artifacts": artifacts, "finished_at": "2026-12-07T00:00:00Z"})
        if zipped is not None:
            self.artifacts[job_id] = zipped

    def answer(self, path: str, query: dict[str, list[str]], token: str | None) -> tuple[int, bytes]:
        self.requests.append(path)
        if token != self.token:
            return 401, b'{"message":"401 Unauthorized"}'
        base = f"/api/v4/projects/{self.project}"
        if not path.startswith(base):
            return 404, b'{"message":"404 Project Not Found"}'
        rest = path[len(base):]
        page, per_page = int(query.get("page", ["1"])[0]), int(query.get("per_page", ["20"])[0])
        if rest == "":
            project = {"path_with_namespace": self.project, "default_branch": self.default_branch}
            return 200, json.dumps(project).encode()
        if rest == "/repository/branches":
            items = [{"name": name, "commit": {"id": commit}} for name, commit in self.branches.items()]
            return 200, json.dumps(items[(page - 1) * per_page:page * per_page]).encode()
        if rest == "/jobs":
            return 200, json.dumps(self.jobs[(page - 1) * per_page:page * per_page]).encode()
        if rest.startswith("/jobs/") and rest.endswith("/artifacts"):
            found = self.artifacts.get(int(rest.split("/")[2]))
            return (200, found) if found is not None else (404, b'{"message":"404 Not found"}')
        return 404, b'{"message":"404 Not Found"}'


def serve(fake: FakeGitLab, host: str = "127.0.0.1") -> tuple[str, ThreadingHTTPServer]:
    """The fake on a free port; its API URL (as CI_API_V4_URL says it) and the server to shut down."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            parts = urlsplit(self.path)
            status, body = fake.answer(unquote(parts.path), parse_qs(parts.query), self.headers.get("PRIVATE-TOKEN"))
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if body[:1] in (b"{", b"[") else "application/zip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return f"http://{host}:{server.server_address[1]}/api/v4", server


def zip_folder(folder: Path, arcroot: str) -> bytes:
    """``folder`` zipped as GitLab zips a job's artifacts: paths relative to the project's folder."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(folder.rglob("*")):
            zipped.write(path, f"{arcroot}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()
