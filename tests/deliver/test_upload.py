"""Uploads to a local folder (atomic) and to real S3 / GCS API servers on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import copy_example, make_repo, run_cli

from kedro_af_ci.deliver.upload import filesystem, upload_dag
from kedro_af_ci.errors import UploadError


def _poll(target: str, digests: set[str], stop, result) -> None:
    """Runs in another process, like Airflow's dag-processor: read the file as fast as possible."""
    import hashlib

    reads = bad = 0
    while not stop.is_set():
        try:
            data = Path(target).read_bytes()
        except FileNotFoundError:
            bad += 1
            continue
        reads += 1
        if hashlib.sha256(data).hexdigest() not in digests:
            bad += 1
    result.put((reads, bad))


def test_local_upload_is_atomic_under_a_concurrent_reader(tmp_path, capsys):
    import hashlib
    import multiprocessing

    uploads = 1000
    folder = tmp_path / "dags"
    versions = [f"# version {i}\n" + "x = 1\n" * (500 + 7 * i) for i in range(uploads)]
    upload_dag(versions[0], str(folder), "dag.py")
    target = folder / "dag.py"
    digests = {hashlib.sha256(v.encode()).hexdigest() for v in versions}
    ctx = multiprocessing.get_context("spawn")
    stop, result = ctx.Event(), ctx.Queue()
    reader = ctx.Process(target=_poll, args=(str(target), digests, stop, result))
    reader.start()
    try:
        for version in versions:
            upload_dag(version, str(folder), "dag.py")
    finally:
        stop.set()
        reads, bad = result.get(timeout=60)
        reader.join(timeout=60)
    with capsys.disabled():
        print(f"\nuploads: {uploads}/{uploads} ok, {reads} concurrent reads, {bad} partial or missing")
    assert reads > 0 and bad == 0
    assert target.read_text() == versions[-1]
    assert sorted(p.name for p in folder.iterdir()) == ["dag.py"]  # no temporary files left behind


def test_local_upload_to_file_path_and_error(tmp_path):
    result = upload_dag("a = 1\n", str(tmp_path / "x" / "custom.py"), "ignored.py")
    assert Path(result.location).read_text() == "a = 1\n"
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UploadError, match="cannot write"):
        upload_dag("a = 1\n", str(blocker / "sub"), "d.py")


def test_s3_upload_against_moto_server(s3_endpoint, monkeypatch):
    url, env = s3_endpoint
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = upload_dag("print('s3')\n", "s3://dags-bucket/team/dags/", "pipeline.py")
    assert result.location == "s3://dags-bucket/team/dags/pipeline.py"
    import boto3

    body = boto3.client("s3", endpoint_url=url, region_name="us-east-1").get_object(
        Bucket="dags-bucket", Key="team/dags/pipeline.py")["Body"].read()
    assert body == b"print('s3')\n"


def test_gcs_upload_against_emulator(gcs_endpoint, monkeypatch):
    url, env = gcs_endpoint
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = upload_dag("print('gcs')\n", "gs://dags-bucket/dags", "pipeline.py")
    import requests

    got = requests.get(f"{url}/storage/v1/b/dags-bucket/o/dags%2Fpipeline.py?alt=media", timeout=10)
    assert got.content == b"print('gcs')\n" and result.size == 13


def test_missing_bucket_is_one_line_error(s3_endpoint, monkeypatch):
    for key, value in s3_endpoint[1].items():
        monkeypatch.setenv(key, value)
    with pytest.raises(UploadError, match=r"upload to s3://no-such-bucket/d\.py failed"):
        upload_dag("x = 1\n", "s3://no-such-bucket", "d.py")


def test_unknown_protocol_and_missing_extra_hint(monkeypatch):
    with pytest.raises(UploadError, match="not a known storage protocol"):
        filesystem("nosuchproto")
    import fsspec

    def missing(protocol, **kwargs):
        raise ImportError("no gcsfs")

    monkeypatch.setattr(fsspec, "filesystem", missing)
    with pytest.raises(UploadError, match=r"pip install 'kedro-airflow-k8s-action\[gcp\]'"):
        filesystem("gs")


def test_upload_pipeline_cli_to_gcs(gcs_endpoint, tmp_path):
    url, env = gcs_endpoint
    project = copy_example(tmp_path / "spaceflights")
    make_repo(project)
    result = run_cli("--project-path", str(project), "upload-pipeline", "--no-verify", "-o", "gs://dags-bucket/cli",
                     env=env, check=True)
    assert "Uploaded DAG 'spaceflights'" in result.stdout
    import requests

    got = requests.get(f"{url}/storage/v1/b/dags-bucket/o/cli%2Fspaceflights.py?alt=media", timeout=10)
    assert b"dag_id='spaceflights'" in got.content


def test_longest_run_name_compiles_and_uploads(tmp_path):
    """A 300-character run name: the DAG id is cut to Airflow's 250, and the file (and its temporary
    twin) stays within the file system's 255-byte name limit."""
    project = copy_example(tmp_path / "spaceflights")
    make_repo(project)
    result = run_cli("--project-path", str(project), "-e", "demo", "-p", "data_processing", "upload-pipeline",
                     "--no-verify", "-o", str(tmp_path / "dags"), env={"KEDRO_CONFIG_RUN_NAME": "r" * 300})
    assert result.returncode == 0, result.stderr
    [dag] = (tmp_path / "dags").iterdir()
    assert len(dag.name) == 253 and dag.name.startswith("r" * 200)
    assert upload_dag("x = 1\n", str(tmp_path / "other"), "d" * 250 + ".py").location.endswith(".py")
