"""Airflow REST client: API v2 (Airflow 3, JWT) and v1 (Airflow 2), detected from the server.

Every call has a timeout. Idempotent calls are retried with exponential backoff on connection
errors, 429 (honouring Retry-After) and 5xx. Triggering is made idempotent by the caller's
deterministic run id: a retried POST that already succeeded answers 409, read as "already there",
so a flaky network can never start a second run. Credentials never appear in messages.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests

from .errors import AirflowApiError, ConfigError

log = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504}
TERMINAL_RUN_STATES = {"success", "failed"}


REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 3


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def _log_lines(content: Any) -> list[str]:
    """Log content as text lines: a string (API v1), or structured entries (API v2) whose ``event`` is
    the message and ``error_detail`` the exception."""
    if isinstance(content, str):
        return content.splitlines()
    lines: list[str] = []
    for entry in content or []:
        if not isinstance(entry, dict):
            lines += str(entry).splitlines()
            continue
        lines += str(entry.get("event", "")).splitlines()
        for error in entry.get("error_detail") or []:
            if isinstance(error, dict):
                lines.append(f"{error.get('exc_type', 'Error')}: {error.get('exc_value', '')}")
    # Airflow folds its own log sections with ::group:: markers: not part of what the task said
    return [line for line in lines if line.strip() and not line.startswith(("::group::", "::endgroup::"))]


@dataclass(frozen=True)
class Credentials:
    token: str | None = None
    username: str | None = None
    password: str | None = None


class AirflowClient:
    def __init__(self, host: str, credentials: Credentials | None = None, *, verify: bool | str = True,
                 timeout: float = 30.0, retries: int = 5, backoff: float = 0.5, max_backoff: float = 10.0,
                 session: requests.Session | None = None):
        if "@" in urlsplit(host).netloc:
            from .config import CREDENTIALS_IN_URL

            raise ConfigError(CREDENTIALS_IN_URL, key="host")
        self.host = host.rstrip("/")
        self.credentials = credentials or Credentials()
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.session = session or requests.Session()
        self.session.verify = verify
        self.session.headers["User-Agent"] = "kedro-airflow-k8s-action"
        self._api: str | None = None  # "v2" or "v1"
        self._jwt: str | None = None
        self.requests_made = 0

    # -- transport ------------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        if self.credentials.token:
            return {"Authorization": f"Bearer {self.credentials.token}"}
        if self._api == "v2" and self.credentials.username:
            if self._jwt is None:
                self._jwt = self._exchange_token()
            return {"Authorization": f"Bearer {self._jwt}"}
        return {}

    def _exchange_token(self) -> str:
        body = {"username": self.credentials.username, "password": self.credentials.password or ""}
        response = self._send("POST", "/auth/token", json=body, idempotent=True, auth=False, ok=(200, 201))
        token = response.json().get("access_token")
        if not token:
            raise AirflowApiError("POST /auth/token answered without an access_token")
        return token

    def _send(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
              idempotent: bool = True, auth: bool = True, ok: tuple[int, ...] = (200,),
              allow: tuple[int, ...] = ()) -> requests.Response:
        url = self.host + path
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            headers = self._auth_headers() if auth else {}
            basic = None
            if auth and self._api == "v1" and not self.credentials.token and self.credentials.username:
                basic = (self.credentials.username, self.credentials.password or "")
            try:
                self.requests_made += 1
                response = self._request(method, url, json=json, params=params, headers=headers, auth=basic)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if idempotent and attempt <= self.retries:
                    self._sleep(attempt, None, f"{method} {path}: {type(exc).__name__}")
                    continue
                raise AirflowApiError(f"{method} {path}: cannot reach Airflow at {self.host}: "
                                      f"{type(exc).__name__}") from None
            except requests.RequestException as exc:
                raise AirflowApiError(f"{method} {path}: request failed: {type(exc).__name__}") from None
            except OSError as exc:  # e.g. a CA bundle path that does not exist
                raise AirflowApiError(f"{method} {path}: {exc}") from None
            status = response.status_code
            if status in ok or status in allow:
                return response
            if status == 401 and auth and self._jwt and not refreshed:
                self._jwt, refreshed = None, True  # expired JWT: exchange again once
                continue
            if status in RETRY_STATUSES and idempotent and attempt <= self.retries:
                self._sleep(attempt, response.headers.get("Retry-After"), f"{method} {path}: HTTP {status}")
                continue
            hint = (" (check AIRFLOW_API_TOKEN, or AIRFLOW_USERNAME and AIRFLOW_PASSWORD)"
                    if status in (401, 403) else "")
            raise AirflowApiError(f"{method} {path} → HTTP {status}: {self._detail(response)}{hint}")

    def _request(self, method: str, url: str, **kwargs) -> requests.Response:
        """One request, following redirects only within the host's own origin: a credential (the
        token, a password in the body) never goes to another host or port, nor from https to http."""
        for _ in range(MAX_REDIRECTS + 1):
            # verify given per request: requests would otherwise let REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
            # override both AIRFLOW_CA_BUNDLE and --insecure
            response = self.session.request(method, url, timeout=self.timeout, allow_redirects=False,
                                            verify=self.session.verify, **kwargs)
            if response.status_code not in REDIRECTS:
                return response
            target = urljoin(url, response.headers.get("Location", ""))
            if _origin(target) != _origin(self.host):
                raise AirflowApiError(f"{method} {urlsplit(url).path} was redirected to {_origin(target)}, another "
                                      f"origin than {_origin(self.host)}: not followed, so no credential is sent "
                                      "there; set host to the address Airflow serves")
            url = target
        raise AirflowApiError(f"{method} {urlsplit(url).path}: more than {MAX_REDIRECTS} redirects")

    def _sleep(self, attempt: int, retry_after: str | None, why: str) -> None:
        delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        if retry_after:
            with contextlib.suppress(ValueError):
                delay = min(max(float(retry_after), 0.0), 60.0)
        log.info("%s; retrying in %.1fs (attempt %d of %d)", why, delay, attempt, self.retries)
        time.sleep(delay)

    def _detail(self, response: requests.Response) -> str:
        """The server's explanation, shortened, on one line, and without any credential it echoed."""
        try:
            data = response.json()
        except ValueError:
            text = (response.text or response.reason or "").strip()
        else:
            text = str(data.get("detail") or data.get("title") or data) if isinstance(data, dict) else str(data)
        for secret in (self.credentials.token, self.credentials.password, self._jwt):
            if secret:
                text = text.replace(secret, "***")
        return " ".join(text.split())[:300]

    # -- API ------------------------------------------------------------------------------------

    @property
    def api(self) -> str:
        if self._api is None:
            self._api = self._detect()
        return self._api

    def _detect(self) -> str:
        for api in ("v2", "v1"):
            response = self._send("GET", f"/api/{api}/version", auth=False, ok=(200,), allow=(401, 403, 404, 405))
            if response.status_code in (200, 401, 403):
                version = response.json().get("version", "?") if response.status_code == 200 else "?"
                log.debug("Airflow %s detected (API %s)", version, api)
                return api
        raise AirflowApiError(f"{self.host} does not look like an Airflow API server (no /api/v2 or /api/v1)")

    def _path(self, path: str) -> str:
        return f"/api/{self.api}{path}"

    def version(self) -> str:
        return self._send("GET", self._path("/version")).json().get("version", "?")

    def get_dag(self, dag_id: str) -> dict | None:
        response = self._send("GET", self._path(f"/dags/{quote(dag_id, safe='')}"), allow=(404,))
        return None if response.status_code == 404 else response.json()

    def dag_details(self, dag_id: str) -> dict | None:
        response = self._send("GET", self._path(f"/dags/{quote(dag_id, safe='')}/details"), allow=(404,))
        return None if response.status_code == 404 else response.json()

    def reparse(self, file_token: str) -> bool:
        """Airflow 3: queue a priority parse of a file it already knows."""
        if self.api != "v2":
            return False
        self._send("PUT", f"/api/v2/parseDagFile/{quote(file_token, safe='')}", ok=(200, 201))
        return True

    def set_paused(self, dag_id: str, paused: bool) -> dict:
        return self._send("PATCH", self._path(f"/dags/{quote(dag_id, safe='')}"), json={"is_paused": paused},
                          params={"update_mask": "is_paused"}).json()

    def trigger(self, dag_id: str, run_id: str, logical_date: str | None, conf: dict | None = None) -> dict:
        """Start a run with a fixed id; a 409 (already triggered by an earlier attempt) returns that run."""
        body: dict[str, Any] = {"dag_run_id": run_id, "conf": conf or {}, "logical_date": logical_date}
        response = self._send("POST", self._path(f"/dags/{quote(dag_id, safe='')}/dagRuns"), json=body,
                              idempotent=True, ok=(200,), allow=(409,))
        if response.status_code == 409:
            log.info("run %s already exists (an earlier attempt went through); following it", run_id)
            return self.get_run(dag_id, run_id)
        return response.json()

    def get_run(self, dag_id: str, run_id: str) -> dict:
        return self._send("GET", self._path(f"/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}")).json()

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = self._path(f"/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/taskInstances")
        return list(self._paginate(path, "task_instances"))

    def task_log_tail(self, dag_id: str, run_id: str, task_id: str, try_number: int, lines: int = 20) -> list[str]:
        """The last lines of a task try's log (Airflow 3: structured entries; Airflow 2: text)."""
        path = self._path(f"/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
                          f"{quote(task_id, safe='')}/logs/{int(try_number)}")
        response = self._send("GET", path, params={"full_content": "true"}, allow=(404,))
        if response.status_code == 404:
            return []
        try:
            content = response.json().get("content")
        except ValueError:
            content = response.text
        return _log_lines(content)[-lines:]

    def list_dags(self, tags: list[str] | None = None) -> list[dict]:
        params = {"tags": tags} if tags else {}
        return list(self._paginate(self._path("/dags"), "dags", params))

    def latest_runs(self, dag_id: str, limit: int = 1) -> list[dict]:
        order = "-run_after" if self.api == "v2" else "-execution_date"
        data = self._send("GET", self._path(f"/dags/{quote(dag_id, safe='')}/dagRuns"),
                          params={"limit": limit, "order_by": order}).json()
        return data.get("dag_runs", [])

    def import_errors(self) -> list[dict]:
        return list(self._paginate(self._path("/importErrors"), "import_errors"))

    def _paginate(self, path: str, key: str, params: dict | None = None, page: int = 100) -> Iterator[dict]:
        offset = 0
        while True:
            data = self._send("GET", path, params={**(params or {}), "limit": page, "offset": offset}).json()
            items = data.get(key, [])
            yield from items
            offset += len(items)
            total = data.get("total_entries", 0)
            if not items or offset >= total:
                return

    # -- links ----------------------------------------------------------------------------------

    def dag_url(self, dag_id: str) -> str:
        if self.api == "v2":
            return f"{self.host}/dags/{quote(dag_id, safe='')}"
        return f"{self.host}/dags/{quote(dag_id, safe='')}/grid"

    def run_url(self, dag_id: str, run_id: str) -> str:
        if self.api == "v2":
            return f"{self.host}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
        return f"{self.host}/dags/{quote(dag_id, safe='')}/grid?dag_run_id={quote(run_id, safe='')}"

    def task_log_url(self, dag_id: str, run_id: str, task_id: str) -> str:
        if self.api == "v2":
            return (f"{self.host}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
                    f"/tasks/{quote(task_id, safe='')}")
        return (f"{self.host}/dags/{quote(dag_id, safe='')}/grid?dag_run_id={quote(run_id, safe='')}"
                f"&task_id={quote(task_id, safe='')}&tab=logs")
