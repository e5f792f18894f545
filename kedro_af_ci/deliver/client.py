"""Airflow REST client: API v2 (Airflow 3, JWT) and v1 (Airflow 2), detected from the server.

Every call has a timeout. Calls are retried by urllib3 (:class:`RetryPolicy`) with exponential
backoff on connection errors, timeouts, 429 (honouring Retry-After) and 5xx. Every call the client
makes is safe to repeat, POST included: triggering is made idempotent by the caller's
deterministic run id, so a retried POST that already succeeded answers 409, read as "already
there", and a flaky network can never start a second run. Credentials never appear in messages.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, LocationParseError
from urllib3.util import parse_url
from urllib3.util.retry import Retry

from ..errors import AirflowApiError, ConfigError
from ..guards.hosts import credentials_may_go
from ..guards.redact import forms, redact
from .answers import DagInfo, DagRunInfo, ImportErrorInfo, TaskInstanceInfo, kind

log = logging.getLogger(__name__)
# urllib3 logs every retry as a raw "Retrying (RetryPolicy(...))" warning; RetryPolicy.increment says it
# in one line of ours instead
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# GET/PUT/PATCH/DELETE are idempotent; POST /auth/token only exchanges credentials; POST dagRuns carries a
# fixed run id (see trigger). A new non-idempotent call would need a session without retries.
RETRY_METHODS = frozenset({"GET", "PUT", "PATCH", "POST", "DELETE"})
MAX_RETRY_AFTER = 60.0
TERMINAL_RUN_STATES = {"success", "failed"}

REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 3
AUTH_HINT = " (check AIRFLOW_API_TOKEN, or AIRFLOW_USERNAME and AIRFLOW_PASSWORD)"
MAX_BODY = 16 * 2**20  # an API answer (a page of 100 DAGs, a task's log) is far smaller
MAX_PAGES = 50  # 5000 DAGs or task instances: more is a server that never says "last page"
T = TypeVar("T")


def origin(url: str) -> str:
    """scheme://host:port as the request will be sent: the URL goes through requests' own preparation
    and urllib3's parser, which is what connects, so no second parser can judge it differently."""
    try:
        prepared = requests.Request("GET", url).prepare().url or ""
        parts = parse_url(prepared)
    except (requests.RequestException, LocationParseError, ValueError):
        return "invalid:"
    scheme = (parts.scheme or "").lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{(parts.host or '').lower()}:{port}"


def run_within(seconds: float, call: Callable[[], T], what: str) -> T:
    """``call()``, or AirflowApiError after ``seconds``: a bound on the whole call, retries, backoff and
    a server that trickles its answer included, which no per-socket timeout gives. A call that
    overruns is left to end in a daemon thread; the command stops with the error."""
    if seconds <= 0:
        raise AirflowApiError(f"{what}: not sent, the command's overall deadline has passed")
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed to the waiting thread as it is
            outcome.append((False, exc))

    worker = threading.Thread(target=target, name="kaf-airflow-call", daemon=True)
    worker.start()
    worker.join(seconds)
    if not outcome:
        raise AirflowApiError(f"{what}: no complete answer within {seconds:.0f}s (the overall deadline)")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def log_lines(content: Any) -> list[str]:
    """Log content as text lines: a string (API v1), or structured entries (API v2)."""
    lines = _without_pod_dumps(content.splitlines()) if isinstance(content, str) else [
        line for entry in content or [] for line in _entry_lines(entry)]
    # Airflow folds its own log sections with ::group:: markers: not part of what the task said
    return [line for line in lines if line.strip() and not line.startswith(("::group::", "::endgroup::"))]


# KubernetesPodOperator's failure carries the whole V1Pod, hundreds of lines, after "remote_pod:"; the
# pod's own output ([base] lines) and the exception's first line come before it (docs/architecture.md, "Run")
_POD_DUMP = re.compile(r"^\s*remote_pod: \{")
_LOG_RECORD = re.compile(r"^\[\d{4}-\d\d-\d\d")  # Airflow 2's text log: each record starts with its time


def _without_pod_dumps(lines: list[str], entry_end: bool = False) -> list[str]:
    """``lines`` without the pod dumps in them: a dump ends at the next record (Airflow 2's text), or with
    the entry (``entry_end``: one structured entry of Airflow 3)."""
    kept, dumping = [], False
    for line in lines:
        if _POD_DUMP.match(line):
            dumping = True
            kept.append("(the pod's description: in the task's log)")
        elif dumping and (entry_end or not _LOG_RECORD.match(line)):
            continue
        else:
            kept.append(line)
            dumping = False
    return kept


# a line a traceback ends with: ModuleNotFoundError: ..., kedro.io.core.DatasetError: ..., SystemExit: 1
_EXCEPTION_LINE = re.compile(r"\s*(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt)(?::|\s*$)")
MAX_CAUSES = 5


def tail_with_causes(lines: list[str], count: int) -> list[str]:
    """The last ``count`` lines, after the exception lines above them: a chained traceback prints its cause
    first (the ModuleNotFoundError under Kedro's "An error occurred while importing" ImportError), and a
    long second traceback pushes it out of any tail."""
    tail = lines[-count:]
    causes = dict.fromkeys(line.strip() for line in lines[:-count] if _EXCEPTION_LINE.match(line))
    earlier = [f"(earlier) {line}" for line in causes if line not in {t.strip() for t in tail}]
    return [*earlier[-MAX_CAUSES:], *tail]


def _entry_lines(entry: Any) -> list[str]:
    """An API v2 log entry: ``event`` is the message, ``error_detail`` the exception(s)."""
    if not isinstance(entry, dict):
        return str(entry).splitlines()
    errors = [f"{error.get('exc_type', 'Error')}: {error.get('exc_value', '')}"
              for error in entry.get("error_detail") or [] if isinstance(error, dict)]
    return _without_pod_dumps([line for text in (str(entry.get("event", "")), *errors) for line in text.splitlines()],
                              entry_end=True)


class RetryPolicy(Retry):
    """urllib3's retries plus a log line per retry, and Retry-After capped at MAX_RETRY_AFTER so a
    server cannot park the CI job for hours."""

    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})  # not 413: a too large body stays too large

    @classmethod
    def of(cls, retries: int, backoff: float, max_backoff: float) -> RetryPolicy:
        """``retries`` retries in all (connect, read, status); waits 0, 2·backoff, 4·backoff, …, at
        most ``max_backoff``, or what Retry-After says. A TLS or other error is not retried: it stays."""
        return cls(total=retries, other=0, allowed_methods=RETRY_METHODS, status_forcelist=RETRY_STATUSES,
                   backoff_factor=backoff, backoff_max=max_backoff, raise_on_status=False)

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            return min(super().parse_retry_after(retry_after), MAX_RETRY_AFTER)
        except InvalidHeader:  # neither seconds nor a date: the usual backoff, not a failed call
            return 0.0

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        cause = f"HTTP {response.status}" if response is not None else type(error).__name__
        log.info("%s %s: %s; retrying (%d so far, %s left)", method, urlsplit(url or "").path, cause,
                 len(retry.history), retry.total)
        return retry


@dataclass(frozen=True)
class Credentials:
    token: str | None = None
    username: str | None = None
    password: str | None = None


class AirflowClient:
    """``deadline`` (a ``time.monotonic()`` value, set by whoever bounds a whole command): no call
    goes on past it. Without one, each call is bounded by what its retries can take."""

    def __init__(self, host: str, credentials: Credentials | None = None, *, verify: bool | str = True,
                 timeout: float = 30.0, retries: int = 5, backoff: float = 0.5, max_backoff: float = 10.0,
                 session: requests.Session | None = None):
        if "@" in urlsplit(host).netloc:
            from ..config import CREDENTIALS_IN_URL

            raise ConfigError(CREDENTIALS_IN_URL, key="host")
        self.host = host.rstrip("/")
        self.credentials = credentials or Credentials()
        self.timeout = timeout
        self.session = session or requests.Session()
        adapter = HTTPAdapter(max_retries=RetryPolicy.of(retries, backoff, max_backoff))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.verify = verify
        self.session.headers["User-Agent"] = "kedro-airflow-k8s-action"
        self._api: str | None = None  # "v2" or "v1"
        self._jwt: str | None = None
        self.requests_made = 0  # HTTP requests sent, retries included (benchmarks/run.py reads it)
        # one call: every try's connect and read timeouts, the waits between tries (backoff or the
        # server's Retry-After), and a margin, so that an ordinary failure always ends the call first
        self.call_budget = (2 * (retries + 1) + 1) * timeout + retries * max(max_backoff, MAX_RETRY_AFTER)
        self.deadline: float | None = None

    # -- transport ------------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        if self.credentials.token:
            return {"Authorization": f"Bearer {self.credentials.token}"}
        if self._api == "v2" and self.credentials.username:
            if self._jwt is None:
                self._jwt = self._exchange_token()
            return {"Authorization": f"Bearer {self._jwt}"}
        return {}

    def _basic_auth(self) -> tuple[str, str] | None:
        """API v1 (Airflow 2) takes the user and password on every call; v2 exchanges them for a JWT."""
        if self._api == "v1" and not self.credentials.token and self.credentials.username:
            return self.credentials.username, self.credentials.password or ""
        return None

    def _exchange_token(self) -> str:
        body = {"username": self.credentials.username, "password": self.credentials.password or ""}
        response = self._send("POST", "/auth/token", json=body, auth=False, ok=(200, 201))
        token = json_object(response, "POST /auth/token").get("access_token")
        if not token:
            raise AirflowApiError("POST /auth/token answered without an access_token")
        return token

    def _send(self, method: str, path: str, *, json: Any = None, params: dict | None = None, auth: bool = True,
              ok: tuple[int, ...] = (200,), allow: tuple[int, ...] = ()) -> requests.Response:
        """One API call whose answer is in ``ok`` or ``allow``, else an error naming the call. Retries
        happen below (RetryPolicy); here an expired JWT is exchanged again, once."""
        expected = ok + allow
        response = self._call(method, path, json=json, params=params, auth=auth)
        if response.status_code == 401 and 401 not in expected and auth and self._jwt:
            self._jwt = None
            response = self._call(method, path, json=json, params=params, auth=auth)
        if response.status_code in expected:
            return response
        hint = AUTH_HINT if response.status_code in (401, 403) else ""
        raise AirflowApiError(f"{method} {path} → HTTP {response.status_code}: {self._detail(response)}{hint}")

    def _call(self, method: str, path: str, *, auth: bool, **kwargs) -> requests.Response:
        """The request with its credentials, within the call's bound and the command's deadline; a
        transport failure (after the retries) becomes one line."""
        headers, basic = (self._auth_headers(), self._basic_auth()) if auth else ({}, None)
        budget = self.call_budget
        if self.deadline is not None:
            budget = min(budget, self.deadline - time.monotonic())
        return run_within(budget, lambda: self._transport(method, path, headers=headers, auth=basic, **kwargs),
                          f"{method} {path}")

    def _transport(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            return self._request(method, self.host + path, **kwargs)
        except requests.ConnectionError as exc:  # Timeout after retries arrives as ConnectionError too
            raise AirflowApiError(f"{method} {path}: cannot reach Airflow at {self.host}: {_cause(exc)}") from None
        except requests.RequestException as exc:
            raise AirflowApiError(f"{method} {path}: request failed: {_cause(exc)}") from None
        except OSError as exc:  # e.g. a CA bundle path that does not exist
            raise AirflowApiError(f"{method} {path}: {exc}") from None

    def _request(self, method: str, url: str, **kwargs) -> requests.Response:
        """One request, following redirects only within the host's own origin: a credential (the
        token, a password in the body) never goes to another host or port, nor from https to http."""
        for _ in range(MAX_REDIRECTS + 1):
            # verify given per request: requests would otherwise let REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
            # override both AIRFLOW_CA_BUNDLE and --insecure
            response = self.session.request(method, url, timeout=self.timeout, allow_redirects=False,
                                            verify=self.session.verify, stream=True, **kwargs)
            self.requests_made += 1 + len(getattr(getattr(response.raw, "retries", None), "history", ()))
            if response.status_code not in REDIRECTS:
                read_bounded(response)
                return response
            response.close()
            target = urljoin(url, response.headers.get("Location", ""))
            if origin(target) != origin(self.host):
                raise AirflowApiError(f"{method} {urlsplit(url).path} was redirected to {origin(target)}, another "
                                      f"origin than {origin(self.host)}: not followed, so no credential is sent "
                                      "there; set host to the address Airflow serves")
            url = target
        raise AirflowApiError(f"{method} {urlsplit(url).path}: more than {MAX_REDIRECTS} redirects")

    def secret_forms(self) -> set[str]:
        """Every credential in every encoding this client sends it in (:mod:`kedro_af_ci.guards.redact`)."""
        found: set[str] = set()
        for secret in (self.credentials.token, self._jwt):
            if secret:
                found |= forms(secret)
        if self.credentials.password:
            found |= forms(self.credentials.password, self.credentials.username or "")
        return found

    def _detail(self, response: requests.Response) -> str:
        """The server's explanation, shortened, on one line, and without any credential it echoed."""
        try:
            data = response.json()
        except ValueError:
            text = (response.text or response.reason or "").strip()
        else:
            text = str(data.get("detail") or data.get("title") or data) if isinstance(data, dict) else str(data)
        return redact(" ".join(text.split()), self.secret_forms())[:300]

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
                version = json_object(response, f"GET /api/{api}/version").get("version", "?") \
                    if response.status_code == 200 else "?"
                log.debug("Airflow %s detected (API %s)", version, api)
                return api
        raise AirflowApiError(f"{self.host} does not look like an Airflow API server (no /api/v2 or /api/v1)")

    def _path(self, path: str) -> str:
        return f"/api/{self.api}{path}"

    def _json(self, method: str, path: str, **kwargs) -> dict:
        """The JSON object a call answers (an error naming the call for anything else)."""
        return json_object(self._send(method, path, **kwargs), f"{method} {path}")

    def version(self) -> str:
        return str(self._json("GET", self._path("/version")).get("version", "?"))

    def get_dag(self, dag_id: str) -> DagInfo | None:
        return self._dag(self._path(f"/dags/{quote(dag_id, safe='')}"))

    def dag_details(self, dag_id: str) -> DagInfo | None:
        return self._dag(self._path(f"/dags/{quote(dag_id, safe='')}/details"))

    def _dag(self, path: str) -> DagInfo | None:
        """The DAG at ``path``; None when Airflow has no such DAG (404)."""
        response = self._send("GET", path, allow=(404,))
        if response.status_code == 404:
            return None
        return DagInfo.from_api(json_object(response, f"GET {path}"), self.api, f"GET {path}")

    def reparse(self, file_token: str) -> bool:
        """Airflow 3: queue a priority parse of a file it already knows."""
        if self.api != "v2":
            return False
        # 409: a parse of that file is already queued, which serves as well
        self._send("PUT", f"/api/v2/parseDagFile/{quote(file_token, safe='')}", ok=(200, 201), allow=(409,))
        return True

    def known_file_token(self, prefer_tag_prefix: str) -> str | None:
        """Airflow 3: the file token of a DAG file it already knows, ours first (same DAGs folder).

        Parsing a known file also refreshes that file's DAG bundle (Airflow 3.0, apache/airflow#48424),
        so a brand-new file beside it is found in seconds instead of at the next folder scan."""
        if self.api != "v2":
            return None
        where = "GET /api/v2/dags"
        dags = list_in(self._json("GET", "/api/v2/dags", params={"limit": 100}), "dags", where)

        def rank(dag: DagInfo) -> tuple[bool, bool]:
            return (not any(tag.startswith(prefer_tag_prefix) for tag in dag.tags), dag.bundle_name != "dags-folder")

        known = sorted((dag for dag in (DagInfo.from_api(d, "v2", where) for d in dags)
                        if dag.file_token and not dag.is_stale), key=rank)
        return known[0].file_token if known else None

    def delete_dag(self, dag_id: str) -> bool | None:
        """Remove the DAG and its runs from Airflow's database; False when Airflow has no such DAG, None
        when it refuses because tasks of the DAG are still running (409)."""
        response = self._send("DELETE", self._path(f"/dags/{quote(dag_id, safe='')}"), ok=(200, 204),
                              allow=(404, 409))
        return {404: False, 409: None}.get(response.status_code, True)

    def unfinished_runs(self, dag_id: str) -> list[str]:
        """Ids of the DAG's runs that are queued or running."""
        path = self._path(f"/dags/{quote(dag_id, safe='')}/dagRuns")
        runs = self._paginate(path, "dag_runs", {"state": ["queued", "running"]})
        return [run.run_id for run in (DagRunInfo.from_api(r, self.api, f"GET {path}") for r in runs)
                if run.state in ("queued", "running")]

    def fail_run(self, dag_id: str, run_id: str) -> None:
        """Mark a run failed: Airflow stops its unfinished tasks."""
        self._send("PATCH", self._path(f"/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}"),
                   json={"state": "failed"})

    def set_paused(self, dag_id: str, paused: bool) -> DagInfo:
        path = self._path(f"/dags/{quote(dag_id, safe='')}")
        answer = self._json("PATCH", path, json={"is_paused": paused}, params={"update_mask": "is_paused"})
        return DagInfo.from_api(answer, self.api, f"PATCH {path}")

    def trigger(self, dag_id: str, run_id: str, logical_date: str | None, conf: dict | None = None) -> DagRunInfo:
        """Start a run with a fixed id; a 409 (already triggered by an earlier attempt) returns that run."""
        body: dict[str, Any] = {"dag_run_id": run_id, "conf": conf or {}, "logical_date": logical_date}
        path = self._path(f"/dags/{quote(dag_id, safe='')}/dagRuns")
        response = self._send("POST", path, json=body, ok=(200,), allow=(409,))
        if response.status_code == 409:
            log.info("run %s already exists (an earlier attempt went through); following it", run_id)
            return self.get_run(dag_id, run_id)
        return DagRunInfo.from_api(json_object(response, f"POST {path}"), self.api, f"POST {path}")

    def get_run(self, dag_id: str, run_id: str) -> DagRunInfo:
        path = self._path(f"/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}")
        return DagRunInfo.from_api(self._json("GET", path), self.api, f"GET {path}")

    def task_instances(self, dag_id: str, run_id: str) -> list[TaskInstanceInfo]:
        path = self._path(f"/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/taskInstances")
        return [TaskInstanceInfo.from_api(ti, self.api, f"GET {path}") for ti in self._paginate(path, "task_instances")]

    def task_log_tail(self, dag_id: str, run_id: str, task_id: str, try_number: int, lines: int = 20) -> list[str]:
        """The last lines of a task try's log (Airflow 3: structured entries; Airflow 2: text)."""
        path = self._path(f"/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
                          f"{quote(task_id, safe='')}/logs/{int(try_number)}")
        response = self._send("GET", path, params={"full_content": "true"}, allow=(404,))
        if response.status_code == 404:
            return []
        try:
            data = response.json()
        except ValueError:  # a plain-text log
            data = {"content": response.text}
        return tail_with_causes(log_lines(data.get("content") if isinstance(data, dict) else None), lines)

    def list_dags(self, tags: list[str] | None = None) -> list[DagInfo]:
        params = {"tags": tags} if tags else {}
        path = self._path("/dags")
        return [DagInfo.from_api(dag, self.api, f"GET {path}") for dag in self._paginate(path, "dags", params)]

    def latest_runs(self, dag_id: str, limit: int = 1) -> list[DagRunInfo]:
        order = "-run_after" if self.api == "v2" else "-execution_date"
        path = self._path(f"/dags/{quote(dag_id, safe='')}/dagRuns")
        runs = list_in(self._json("GET", path, params={"limit": limit, "order_by": order}), "dag_runs", f"GET {path}")
        return [DagRunInfo.from_api(run, self.api, f"GET {path}") for run in runs]

    def import_errors(self) -> list[ImportErrorInfo]:
        path = self._path("/importErrors")
        return [ImportErrorInfo.from_api(error, self.api, f"GET {path}")
                for error in self._paginate(path, "import_errors")]

    def _paginate(self, path: str, key: str, params: dict | None = None, page: int = 100) -> Iterator[Any]:
        """The raw items of every page, until the server's total, an empty page, or MAX_PAGES: a server
        that always answers a full page and a growing total cannot keep the command paging."""
        offset = 0
        for _ in range(MAX_PAGES):
            data = self._json("GET", path, params={**(params or {}), "limit": page, "offset": offset})
            items = list_in(data, key, f"GET {path}")
            yield from items
            offset += len(items)
            total = data.get("total_entries", 0)
            if not items or not isinstance(total, int) or offset >= total:
                return
        log.warning("GET %s: stopped after %d pages (%d items)", path, MAX_PAGES, offset)

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


def read_bounded(response: requests.Response, limit: int | None = None,
                 error: Callable[[str], Exception] = AirflowApiError) -> None:
    """Read the answer's body now, at most ``limit`` bytes (MAX_BODY by default: a body that never ends
    is an error, not a command that never ends); requests then serves ``.json()``/``.text`` from it."""
    limit = MAX_BODY if limit is None else limit
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > limit:
                raise error(f"the answer to {response.request.method} {urlsplit(response.url).path} is "
                            f"over {limit // 2**20} MiB")
            chunks.append(chunk)
    finally:
        response.close()
    response._content = b"".join(chunks)  # what requests' own .content would hold


def json_object(response: requests.Response, where: str) -> dict:
    """The JSON object an answer holds; AirflowApiError naming the call for anything else (an HTML
    error page, a list), never a decoding traceback. The body is not quoted: it may echo a secret."""
    try:
        data = response.json()
    except ValueError:
        raise AirflowApiError(f"{where}: the answer (HTTP {response.status_code}) is not JSON") from None
    if not isinstance(data, dict):
        raise AirflowApiError(f"{where}: the answer is {kind(data)}, expected a JSON object")
    return data


def list_in(answer: dict, key: str, where: str) -> list:
    """The list under ``key`` of a listing's answer; absent or null is empty."""
    items = answer.get(key) or []
    if not isinstance(items, list):
        raise AirflowApiError(f"{where}: {key!r} is {kind(items)}, expected a list")
    return items


def _cause(exc: requests.RequestException) -> str:
    """What went wrong, by name only (no URL, no header): urllib3's "max retries exceeded" wrapper
    is looked through, so a timeout reads ReadTimeoutError rather than ConnectionError."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return type(reason or exc).__name__


def airflow_client(host: str, insecure: bool, *, environ: Mapping[str, str] | None = None, credentials: bool = True,
                   host_key: str = "host", **options: Any) -> AirflowClient:
    """The Airflow client of the CLI and the container action: credentials from the environment
    (none when ``credentials`` is false), TLS verified unless ``insecure`` (AIRFLOW_CA_BUNDLE: a CA file).
    ``host_key`` names where the host came from, for the error of :func:`check_transport`."""
    environ = os.environ if environ is None else environ
    secrets = Credentials(token=environ.get("AIRFLOW_API_TOKEN") or None,
                          username=environ.get("AIRFLOW_USERNAME") or None,
                          password=environ.get("AIRFLOW_PASSWORD") or None) if credentials else Credentials()
    if secrets.token or secrets.username or secrets.password:
        check_transport(host, insecure, host_key)
    verify: bool | str = False if insecure else environ.get("AIRFLOW_CA_BUNDLE") or True
    return AirflowClient(host, secrets, verify=verify, **options)


def check_transport(host: str, insecure: bool, host_key: str = "host") -> None:
    """Credentials travel over https, or plain http to this machine's loopback, or where ``insecure`` says
    so: the one rule for the CLI and the action (kedro_af_ci/guards/hosts.py)."""
    if credentials_may_go(host, insecure):
        return
    raise ConfigError(f"plain http to {urlsplit(host).hostname} would send the Airflow credentials in clear: use https "
                      "(or --insecure, the insecure input, on a network you trust)", key=host_key)
