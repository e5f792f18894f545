"""The REST client never sends a credential where the configured host did not say: redirects to
another origin (host, port or scheme) are refused, and echoed credentials are cut from errors.

Two real HTTP servers on loopback: "airflow" answers with redirects, "elsewhere" records what reaches it.
"""

from __future__ import annotations

import json

import pytest
from attacks import RecordingServer as Server
from conftest import secret

from kedro_af_ci.deliver.answers import DagInfo, DagRunInfo
from kedro_af_ci.deliver.client import AirflowClient, Credentials, origin
from kedro_af_ci.errors import AirflowApiError

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

PASSWORD, TOKEN = secret("pw-never-elsewhere-91"), secret("tok-never-elsewhere-17")


@pytest.fixture
def elsewhere():
    server = Server(lambda method, path: (200, {"Content-Type": "application/json"},
                                          json.dumps({"access_token": "stolen", "version": "3"}).encode()))
    yield server
    server.close()


def redirecting(target: str, status: int):
    def answer(method, path):
        if path == "/api/v2/version":
            return 200, {"Content-Type": "application/json"}, b'{"version": "3.3.2"}'
        return status, {"Location": target + path}, b""
    return answer


@pytest.mark.parametrize("status", [307, 308, 302])
def test_password_is_never_sent_to_another_origin(elsewhere, status):
    airflow = Server(redirecting(elsewhere.url, status))
    try:
        client = AirflowClient(airflow.url, Credentials(username="admin", password=PASSWORD), retries=0)
        with pytest.raises(AirflowApiError, match=r"redirected to http://127\.0\.0\.1:.*another origin.*not followed"):
            client.get_dag("anything")
        assert elsewhere.seen == []
        [login] = [s for s in airflow.seen if s[1] == "/auth/token"]
        assert PASSWORD.encode() in login[3]  # it went, once, to the configured host only
    finally:
        airflow.close()


def test_token_is_never_sent_to_another_origin(elsewhere):
    airflow = Server(redirecting(elsewhere.url, 301))
    try:
        client = AirflowClient(airflow.url, Credentials(token=TOKEN), retries=0)
        with pytest.raises(AirflowApiError, match="another origin"):
            client.get_dag("anything")
        assert elsewhere.seen == []
    finally:
        airflow.close()


def test_redirects_within_the_origin_are_followed():
    def answer(method, path):
        if path.startswith("/old/"):
            return 308, {"Location": path.removeprefix("/old")}, b""
        return 200, {"Content-Type": "application/json"}, b'{"dag_id": "d", "version": "3.3.2"}'

    airflow = Server(answer)
    try:
        client = AirflowClient(airflow.url + "/old", Credentials(token=TOKEN), retries=0)
        assert client.get_dag("d") == DagInfo("d")
    finally:
        airflow.close()


def test_a_downgrade_from_https_is_another_origin():
    assert origin("https://airflow.example.com/x") != origin("http://airflow.example.com/x")
    assert origin("https://airflow.example.com") == origin("https://AIRFLOW.example.com:443/api")


def test_credentials_echoed_by_the_server_are_cut_from_errors():
    airflow = Server(lambda method, path: (
        (200, {"Content-Type": "application/json"}, b'{"version": "3.3.2"}') if path == "/api/v2/version"
        else (400, {"Content-Type": "application/json"},
              json.dumps({"detail": f"bad token {TOKEN}\n::error::forged"}).encode())))
    try:
        client = AirflowClient(airflow.url, Credentials(token=TOKEN), retries=0)
        with pytest.raises(AirflowApiError) as info:
            client.get_dag("d")
        assert TOKEN not in str(info.value) and "bad token *** ::error::forged" in str(info.value)
    finally:
        airflow.close()


def _tls_server(tmp_path):
    """An HTTPS server on loopback with a certificate from its own CA; returns (server, ca_file)."""
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kaf test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "ca.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = Server(lambda method, path: (200, {"Content-Type": "application/json"},
                                          b'{"version": "3.3.2", "dag_id": "d"}'))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    server.url = server.url.replace("http://", "https://")
    return server, cert_file


@pytest.mark.parametrize("verify", ["ca-file", "insecure"])
def test_requests_ca_bundle_overrides_neither_the_ca_file_nor_insecure(tmp_path, monkeypatch, verify):
    server, ca_file = _tls_server(tmp_path)
    try:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "no-such-bundle.pem"))
        monkeypatch.setenv("CURL_CA_BUNDLE", str(tmp_path / "no-such-bundle.pem"))
        client = AirflowClient(server.url, Credentials(token=TOKEN), retries=0,
                               verify=str(ca_file) if verify == "ca-file" else False)
        assert client.get_dag("d") == DagInfo("d")
        strict = AirflowClient(server.url, Credentials(token=TOKEN), retries=0)  # the system CAs: refused
        with pytest.raises(AirflowApiError):
            strict.get_dag("d")
    finally:
        server.close()


# -- retries (urllib3's Retry under the client): which answers, which methods, how long -------------

VERSION = (200, {"Content-Type": "application/json"}, b'{"version": "3.3.2"}')


def scripted(script: dict[tuple[str, str], list]):
    """A server answering each (method, path) with the next scripted answer; the last one repeats."""
    def answer(method, path):
        if path == "/api/v2/version":
            return VERSION
        answers = script[(method, path.split("?")[0])]
        status, body, *headers = answers.pop(0) if len(answers) > 1 else answers[0]
        headers = {"Content-Type": "application/json", **(headers[0] if headers else {})}
        return status, headers, json.dumps(body).encode()
    return Server(answer)


@pytest.fixture
def sleeps(monkeypatch):
    import urllib3.util.retry

    slept: list[float] = []
    monkeypatch.setattr(urllib3.util.retry.time, "sleep", slept.append)
    return slept


def test_5xx_and_429_are_retried_with_backoff_and_retry_after(sleeps):
    airflow = scripted({("GET", "/api/v2/dags/d"): [
        (503, {}), (500, {}), (429, {}, {"Retry-After": "7"}), (502, {}), (503, {}, {"Retry-After": "soon"}),
        (200, {"dag_id": "d"})]})
    try:
        client = AirflowClient(airflow.url, Credentials(token=TOKEN), retries=5, backoff=0.5, max_backoff=6)
        assert client.get_dag("d") == DagInfo("d")
        # 1st retry at once, then 2·backoff, Retry-After, 8·backoff, 16·backoff capped (a bad Retry-After ignored)
        assert sleeps == [1.0, 7.0, 4.0, 6.0]
        assert client.requests_made == 1 + 6  # version, then 6 tries of the DAG
    finally:
        airflow.close()


def test_retry_after_is_capped_and_the_last_answer_is_the_error(sleeps):
    airflow = scripted({("GET", "/api/v2/dags/d"): [(503, {"detail": "busy"}, {"Retry-After": "86400"})]})
    try:
        client = AirflowClient(airflow.url, Credentials(token=TOKEN), retries=2)
        with pytest.raises(AirflowApiError, match=r"^GET /api/v2/dags/d → HTTP 503: busy$"):
            client.get_dag("d")
        assert sleeps == [60.0, 60.0]
        assert sum(seen[1] == "/api/v2/dags/d" for seen in airflow.seen) == 3
    finally:
        airflow.close()


def test_client_errors_are_not_retried(sleeps):
    airflow = scripted({("PATCH", "/api/v2/dags/d"): [(400, {"detail": "bad mask"})]})
    try:
        client = AirflowClient(airflow.url, Credentials(token=TOKEN), retries=5)
        with pytest.raises(AirflowApiError, match="HTTP 400: bad mask"):
            client.set_paused("d", False)
        assert [s[0] for s in airflow.seen] == ["GET", "PATCH"] and sleeps == []
    finally:
        airflow.close()


def test_a_trigger_whose_answer_was_lost_is_retried_and_follows_the_run(sleeps):
    """POST is retried on purpose: the run id is fixed, so the repeat answers 409, never a second run."""
    airflow = scripted({("POST", "/api/v2/dags/d/dagRuns"): [(502, {}), (409, {"detail": "exists"})],
                        ("GET", "/api/v2/dags/d/dagRuns/r1"): [(200, {"dag_run_id": "r1", "state": "running"})]})
    try:
        client = AirflowClient(airflow.url, Credentials(token=TOKEN), retries=3)
        assert client.trigger("d", "r1", None) == DagRunInfo("r1", state="running")
        posts = [json.loads(s[3]) for s in airflow.seen if s[0] == "POST"]
        assert [p["dag_run_id"] for p in posts] == ["r1", "r1"]
    finally:
        airflow.close()


def test_a_read_timeout_is_retried(caplog):
    import logging
    import time

    calls = []

    def answer(method, path):
        if path == "/api/v2/version":
            return VERSION
        calls.append(path)
        if len(calls) == 1:
            time.sleep(1.5)
        return 200, {"Content-Type": "application/json"}, b'{"dag_id": "d"}'

    airflow = Server(answer)
    try:
        client = AirflowClient(airflow.url, Credentials(token=TOKEN), retries=1, timeout=0.5)
        with caplog.at_level(logging.INFO):
            assert client.get_dag("d") == DagInfo("d") and len(calls) == 2
        said = [r.getMessage() for r in caplog.records]
        assert any("ReadTimeoutError; retrying (1 so far, 0 left)" in line for line in said)  # our one line
        assert not any(line.startswith("Retrying (RetryPolicy") for line in said)  # not urllib3's raw one
        with pytest.raises(AirflowApiError, match=r"cannot reach Airflow at .*: ReadTimeoutError$"):
            calls.clear()
            AirflowClient(airflow.url, Credentials(token=TOKEN), retries=0, timeout=0.5).get_dag("d")
    finally:
        airflow.close()


def test_an_unreachable_host_is_retried_then_named(sleeps):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        host = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: refused
        client = AirflowClient(host, retries=3, backoff=0.25)
        with pytest.raises(AirflowApiError, match=rf"^GET /api/v2/version: cannot reach Airflow at {host}: "
                                                  "NewConnectionError$"):
            client.version()
    assert sleeps == [0.5, 1.0]


def test_an_expired_jwt_is_exchanged_again_once():
    tokens = iter(["jwt-old", "jwt-new", "jwt-newer"])
    accepted = {"Bearer jwt-new"}
    airflow = None

    def answer(method, path):
        if path == "/api/v2/version":
            return VERSION
        if path == "/auth/token":
            return 201, {"Content-Type": "application/json"}, json.dumps({"access_token": next(tokens)}).encode()
        if airflow.seen[-1][2].get("Authorization") in accepted:
            accepted.clear()  # then every token expires: one more exchange, then the error
            return 200, {"Content-Type": "application/json"}, b'{"dag_id": "d"}'
        return 401, {"Content-Type": "application/json"}, b'{"detail": "Token expired"}'

    airflow = Server(answer)
    try:
        client = AirflowClient(airflow.url, Credentials(username="admin", password=PASSWORD), retries=0)
        assert client.get_dag("d") == DagInfo("d")
        with pytest.raises(AirflowApiError, match=r"HTTP 401: Token expired \(check AIRFLOW_API_TOKEN"):
            client.get_dag("d")
        token, dag = "/auth/token", "/api/v2/dags/d"
        assert [s[1] for s in airflow.seen] == ["/api/v2/version", token, dag, token, dag, dag, token, dag]
    finally:
        airflow.close()


def test_a_tls_failure_is_not_retried(tmp_path, sleeps):
    server, _ = _tls_server(tmp_path)
    try:
        with pytest.raises(AirflowApiError, match=r"cannot reach Airflow at .*: SSLError$"):
            AirflowClient(server.url, Credentials(token=TOKEN), retries=5).get_dag("d")
        assert sleeps == []
    finally:
        server.close()


KEDRO_IMPORT_FAILURE = """\
[2026-12-06 10:00:01] INFO - Running: kedro run --env docker --pipeline reporting --nodes compare_node
Traceback (most recent call last):
  File "/home/kedro/src/spaceflights/pipelines/reporting/nodes.py", line 3, in <module>
    import plotly.express as px
ModuleNotFoundError: No module named 'plotly'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
""" + "".join(f'  File "/opt/venv/lib/python3.11/site-packages/kedro/framework/project.py", line {n}, in f{n}\n'
              f"    frame_{n}()\n" for n in range(30)) + \
    "ImportError: An error occurred while importing the 'spaceflights.pipelines.reporting' module.\n"


def test_a_failed_tasks_tail_keeps_the_cause_a_chained_traceback_printed_first():
    """Before: the 20-line tail ended at Kedro's ImportError; the ModuleNotFoundError saying what was missing
    was only in Airflow's UI."""
    from kedro_af_ci.deliver.client import log_lines, tail_with_causes

    lines = log_lines(KEDRO_IMPORT_FAILURE)
    assert not any("No module named" in line for line in lines[-20:])  # what a plain tail showed
    tail = tail_with_causes(lines, 20)
    assert tail[0] == "(earlier) ModuleNotFoundError: No module named 'plotly'"
    assert tail[1:] == lines[-20:] and len(tail) == 21
    assert tail_with_causes(lines[-20:], 20) == lines[-20:]  # nothing above it: the tail as it was


# KubernetesPodOperator's failure as Airflow 3 serves it: the pod's output, then the exception whose value
# ends with the whole V1Pod (seen on the k8s tier's cluster, tests/k8s/test_cluster_runs.py)
POD_DUMP = ("remote_pod: {'api_version': 'v1',\n" + "".join(f" 'field_{i}': {{'nested': None}},\n" for i in range(300))
            + " 'status': {'phase': 'Failed'}}")
KPO_FAILURE = [
    {"event": "Pod has reached Failed phase before launch timeout"},
    {"event": "[base] cp: preserving times for '/mnt/kedro-data-volume/.': Operation not permitted"},
    {"event": "Deleting pod: data-volume-init-4jvy7joh"},
    {"event": "Task failed with exception", "error_detail": [
        {"exc_type": "AirflowException",
         "exc_value": "Pod data-volume-init-4jvy7joh returned a failure.\n" + POD_DUMP}]},
    {"event": "Marking task as FAILED."},
]


def test_a_pods_dump_does_not_push_its_output_out_of_the_tail():
    from kedro_af_ci.deliver.client import log_lines, tail_with_causes

    tail = tail_with_causes(log_lines(KPO_FAILURE), 20)
    assert "[base] cp: preserving times for '/mnt/kedro-data-volume/.': Operation not permitted" in tail
    assert "AirflowException: Pod data-volume-init-4jvy7joh returned a failure." in tail
    assert tail[-1] == "Marking task as FAILED." and len(tail) == 7
    assert not [line for line in tail if "field_" in line]

    # the same in Airflow 2's text log: the dump ends where the next record starts
    text = "\n".join(["[2026-12-06, 22:03:15 UTC] {pod_manager.py:1} INFO - [base] cp: denied",
                      "[2026-12-06, 22:03:16 UTC] {taskinstance.py:2} ERROR - Task failed with exception",
                      "airflow.exceptions.AirflowException: Pod p returned a failure.", *POD_DUMP.splitlines(),
                      "[2026-12-06, 22:03:17 UTC] {taskinstance.py:3} INFO - Marking task as FAILED."])
    lines = log_lines(text)
    assert len(lines) == 5 and lines[-1].endswith("Marking task as FAILED.") and "[base] cp: denied" in lines[0]


@pytest.mark.parametrize(("host", "insecure", "refused"), [
    ("http://airflow.example.com", False, True), ("http://airflow.example.com", True, False),
    ("http://127.0.0.1:8080", False, False), ("http://localhost:8080", False, False),
    ("http://[::1]:8080", False, False), ("https://airflow.example.com", False, False),
    ("http://127.0.0.1.nip.io", False, True),
])
def test_credentials_travel_over_https_or_to_this_machine(host, insecure, refused):
    """The one rule for the CLI and the action (issue 36: the CLI lacked the action's refusal)."""
    from kedro_af_ci.deliver.client import airflow_client
    from kedro_af_ci.errors import ConfigError

    with_token = {"AIRFLOW_API_TOKEN": "tok"}
    if refused:
        with pytest.raises(ConfigError, match="would send the Airflow credentials in clear") as info:
            airflow_client(host, insecure, environ=with_token, host_key="--host")
        assert info.value.key == "--host"
    else:
        assert airflow_client(host, insecure, environ=with_token).host
    assert airflow_client(host, insecure, environ={}).host  # nothing to send: no refusal
