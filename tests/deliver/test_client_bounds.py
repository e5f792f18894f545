"""A hostile or broken Airflow cannot hold the command, nor make it send or print a credential (README,
"Security model"): one URL parser judges and sends a redirect; every call has an overall bound and
the command a deadline; bodies and pages are capped; a secret is cut in every encoding sent.

Real HTTP servers on loopback; each attack is first shown working where the defence is absent.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, urlsplit

import pytest
import requests
from attacks import RecordingServer as Server
from conftest import secret

from kedro_af_ci.deliver import client as client_module
from kedro_af_ci.deliver.client import AirflowClient, Credentials, origin
from kedro_af_ci.errors import AirflowApiError

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

TOKEN, PASSWORD = secret("tok-bounds-never-elsewhere-52"), secret("pw-bounds-never-elsewhere-53")
VERSION = (200, {"Content-Type": "application/json"}, b'{"version": "3.3.2"}')


def urlsplit_origin(url: str) -> str:
    """How the redirect check judged a URL before: the standard library's parser, not the sender's."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}"


def test_a_redirect_two_parsers_read_differently_is_judged_by_the_one_that_sends():
    elsewhere = Server(lambda method, path: (200, {"Content-Type": "application/json"}, b"{}"))
    airflow_port = 0

    def answer(method, path):
        if path == "/api/v2/version":
            return VERSION
        # the standard library reads the host after '@'; requests and urllib3 read it before the '\'
        return 307, {"Location": f"http://127.0.0.1:{elsewhere_port}\\@127.0.0.1:{airflow_port}/x"}, b""

    elsewhere_port = urlsplit(elsewhere.url).port
    airflow = Server(answer)
    airflow_port = urlsplit(airflow.url).port
    try:
        location = f"http://127.0.0.1:{elsewhere_port}\\@127.0.0.1:{airflow_port}/x"
        assert urlsplit_origin(location) == urlsplit_origin(airflow.url)  # "same origin" to that parser...
        requests.get(location, headers={"Authorization": "Bearer demo"}, timeout=10)
        assert elsewhere.seen and elsewhere.seen[0][2].get("Authorization") == "Bearer demo"  # ...sent elsewhere
        elsewhere.seen.clear()

        assert origin(location) != origin(airflow.url)
        client = AirflowClient(airflow.url, Credentials(token=TOKEN), retries=0)
        with pytest.raises(AirflowApiError, match="another origin"):
            client.get_dag("d")
        assert elsewhere.seen == []
    finally:
        airflow.close()
        elsewhere.close()


class _Slow(BaseHTTPRequestHandler):
    """Answers 200 with a body that never ends (until ``stop``): one byte every ``pause`` seconds, or as
    fast as it can."""

    pause = 0.2
    stop: threading.Event

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/api/v2/version":
            body = b'{"version": "3.3.2"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        try:
            while not self.stop.is_set():
                self.wfile.write(b" " * (1 if self.pause else 65536))
                self.wfile.flush()
                if self.pause:
                    time.sleep(self.pause)
        except OSError:
            pass


@pytest.fixture
def slow_server():
    servers, stop = [], threading.Event()

    def start(pause: float) -> str:
        handler = type("Handler", (_Slow,), {"pause": pause, "stop": stop})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    stop.set()  # the answers end, so the calls the client left behind end too
    for httpd in servers:
        httpd.shutdown()


def test_a_server_that_trickles_its_answer_cannot_hold_a_call(slow_server):
    url = slow_server(0.2)
    with requests.get(f"{url}/api/v2/dags/d", timeout=1, stream=True) as response:  # each read is in time...
        started = time.monotonic()
        for _ in response.iter_content(1):
            if time.monotonic() - started > 2:
                break
        assert time.monotonic() - started > 2  # ...so a read timeout alone never ends it
    client = AirflowClient(url, Credentials(token=TOKEN), retries=0, timeout=1)
    started = time.monotonic()
    with pytest.raises(AirflowApiError, match="no complete answer within"):
        client.get_dag("d")
    assert time.monotonic() - started < client.call_budget + 2


def test_a_command_deadline_bounds_every_call(slow_server):
    client = AirflowClient(slow_server(0.2), Credentials(token=TOKEN), retries=0, timeout=1)
    client.deadline = time.monotonic() + 1.5
    started = time.monotonic()
    with pytest.raises(AirflowApiError, match="within 1s"):
        client.get_dag("d")
    assert time.monotonic() - started < 3
    with pytest.raises(AirflowApiError, match="deadline has passed"):
        client.get_dag("d")  # nothing is sent once the deadline passed


def test_an_endless_body_is_cut_at_the_cap(slow_server, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_BODY", 2**20)
    client = AirflowClient(slow_server(0), Credentials(token=TOKEN), retries=0, timeout=5)
    with pytest.raises(AirflowApiError, match="over 1 MiB"):
        client.get_dag("d")


def test_paging_stops_at_the_cap_whatever_the_server_says():
    pages = []

    def answer(method, path):
        if path == "/api/v2/version":
            return VERSION
        pages.append(path)
        page = {"dags": [{"dag_id": f"d{len(pages)}_{i}", "tags": []} for i in range(100)],
                "total_entries": 10**9}  # always a full page, and always more to come
        return 200, {"Content-Type": "application/json"}, json.dumps(page).encode()

    airflow = Server(answer)
    try:
        dags = AirflowClient(airflow.url, Credentials(token=TOKEN), retries=0).list_dags()
        assert len(pages) == client_module.MAX_PAGES and len(dags) == 100 * client_module.MAX_PAGES
    finally:
        airflow.close()


@pytest.mark.parametrize("encode", [
    lambda user, pw: pw, lambda user, pw: json.dumps({"p": pw})[7:-2], lambda user, pw: quote(pw, safe=""),
    lambda user, pw: base64.b64encode(f"{user}:{pw}".encode()).decode(),
], ids=["raw", "json-escaped", "url-encoded", "basic-auth-header"])
def test_a_password_echoed_in_any_encoding_sent_is_cut(encode):
    password = PASSWORD + '"/\\é'  # characters each encoding writes differently

    def answer(method, path):
        if path == "/api/v1/version":
            return 200, {"Content-Type": "application/json"}, b'{"version": "2.11.0"}'
        if path == "/api/v2/version":
            return 404, {}, b""
        return 400, {"Content-Type": "application/json"}, json.dumps(
            {"detail": f"rejected: {encode('admin', password)}"}).encode()

    airflow = Server(answer)
    try:
        client = AirflowClient(airflow.url, Credentials(username="admin", password=password), retries=0)
        with pytest.raises(AirflowApiError) as info:
            client.get_dag("d")
        echoed = encode("admin", password)
        assert password not in echoed or echoed == password  # the encodings differ from the raw value
        assert echoed not in str(info.value) and "rejected: ***" in str(info.value)
    finally:
        airflow.close()


def test_an_unanswered_connection_is_bounded_too():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        client = AirflowClient(f"http://127.0.0.1:{listener.getsockname()[1]}", Credentials(token=TOKEN),
                               retries=1, timeout=0.5, max_backoff=0.1)
        started = time.monotonic()
        with pytest.raises(AirflowApiError):
            client.version()
        assert time.monotonic() - started < client.call_budget
    finally:
        listener.close()
