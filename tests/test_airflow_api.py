"""The REST client never sends a credential where the configured host did not say: redirects to
another origin (host, port or scheme) are refused, and echoed credentials are cut from errors.

Two real HTTP servers on loopback: "airflow" answers with redirects, "elsewhere" records what reaches it.
"""

from __future__ import annotations

import json

import pytest
from attacks import RecordingServer as Server
from conftest import secret

from kedro_af_ci.airflow_api import AirflowClient, Credentials, _origin
from kedro_af_ci.errors import AirflowApiError

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
        assert client.get_dag("d") == {"dag_id": "d", "version": "3.3.2"}
    finally:
        airflow.close()


def test_a_downgrade_from_https_is_another_origin():
    assert _origin("https://airflow.example.com/x") != _origin("http://airflow.example.com/x")
    assert _origin("https://airflow.example.com") == _origin("https://AIRFLOW.example.com:443/api")


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
        assert client.get_dag("d")["dag_id"] == "d"
        strict = AirflowClient(server.url, Credentials(token=TOKEN), retries=0)  # the system CAs: refused
        with pytest.raises(AirflowApiError):
            strict.get_dag("d")
    finally:
        server.close()
