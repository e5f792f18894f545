"""The trusted deployer's package, crafted as an attacker would craft it (README, "Security model"): a file
planted beside the expected ones, a link, an oversized or malformed archive, a layer that is not the one its
config names, hostile names in the graph and refused settings in the config: each is refused, or stays
inert, before anything is pushed or uploaded. A sound package's image goes to a real registry (Debian's
docker-registry) from the archive, without an engine, layer for layer."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import uuid
from pathlib import Path

import pytest
import yaml
from conftest import make_graph

from kedro_af_ci.action import package as package_module
from kedro_af_ci.action.deployer import push_archive
from kedro_af_ci.action.package import read_package, write_package
from kedro_af_ci.deliver.registry import Registry
from kedro_af_ci.errors import ConfigError
from kedro_af_ci.image.archive import BadArchive, gzipped_layers, read_archive

PYPROJECT = '[tool.kedro]\npackage_name = "tiny"\nproject_name = "Tiny"\n'
GRAPH = make_graph([("a", ["raw"], ["x"], []), ("b", ["x"], ["y"], [])])


def layer(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def archive(path: Path, layers: list[bytes], *, diff_ids: list[str] | None = None, images: int = 1) -> Path:
    """An image as `docker save` writes it: manifest.json, the config, one folder per layer."""
    ids = diff_ids or ["sha256:" + hashlib.sha256(data).hexdigest() for data in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"User": "999"},
                         "rootfs": {"type": "layers", "diff_ids": ids}}).encode()
    entries = {"config.json": config, **{f"l{i}/layer.tar": data for i, data in enumerate(layers)}}
    manifest = [{"Config": "config.json", "RepoTags": ["x:1"], "Layers": [f"l{i}/layer.tar" for i in
                                                                          range(len(layers))]}] * images
    entries["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(path, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def make_package(tmp_path: Path, run_config: dict | None = None, graph=GRAPH) -> Path:
    project = tmp_path / "checkout"
    (project / "conf" / "base").mkdir(parents=True)
    (project / "pyproject.toml").write_text(PYPROJECT)
    config = project / "conf" / "base" / "airflow-k8s.yaml"
    config.write_text(yaml.safe_dump({"run_config": {"image": "branch/own:1", **(run_config or {})}}))
    folder = tmp_path / "workspace" / "kedro-airflow-k8s-package"
    write_package(folder, project=project, config_files=[config], graph_json=graph.to_json(), pipeline="__default__",
                  env=None)
    archive(folder / "image.tar", [layer({"home/kedro/a.py": b"A = 1\n"}), layer({"home/kedro/b.py": b"B"})])
    return folder


def refused(folder: Path) -> str:
    with pytest.raises(ConfigError) as info:
        read_package(folder, pipeline="__default__", env=None)
    return str(info.value)


def test_a_package_as_the_package_job_writes_it_is_read(tmp_path):
    found = read_package(make_package(tmp_path), pipeline="__default__", env=None)
    assert (found.project / "conf" / "base" / "airflow-k8s.yaml").is_file() and found.image.is_file()


@pytest.mark.parametrize("planted", ["sitecustomize.py", "project/src/tiny/__init__.py", "project/conf/base/x.py",
                                     "project/conf/base/catalog.yml", ".env", "project/conf/../evil.pth"])
def test_a_file_planted_in_the_package_is_refused(tmp_path, planted):
    folder = make_package(tmp_path)
    target = folder / planted
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("import os; os.system('curl attacker')\n")
    assert "which no package job writes" in refused(folder)


def test_a_link_in_the_package_is_refused(tmp_path):
    folder = make_package(tmp_path)
    config = folder / "project" / "conf" / "base" / "airflow-k8s.yaml"
    config.unlink()
    os.symlink("/etc/passwd", config)  # read as the branch's config, it would be the runner's file
    assert "as plain files" in refused(folder)


def test_an_oversized_or_mislabelled_package_is_refused(tmp_path, monkeypatch):
    folder = make_package(tmp_path)
    monkeypatch.setitem(package_module.LIMITS, "graph.json", 100)
    assert "graph.json is over 100 bytes" in refused(folder)
    monkeypatch.undo()
    (folder / "package.json").write_text('{"format": 99}')
    assert "not a package description of format 1" in refused(folder)
    (folder / "package.json").write_text('{"format": 1, "pipeline": "other", "env": null}')
    assert "holds pipeline 'other'" in refused(folder)
    (folder / "image.tar").unlink()
    assert "has no image.tar" in refused(folder)


@pytest.mark.parametrize("damage, message", [
    ("not a tar", "not a readable tar archive"),
    ("two images", "not describe exactly one image"),
    ("missing layer", "are not the config's"),
    ("config not json", "is not JSON"),
])
def test_a_malformed_archive_is_refused(tmp_path, damage, message):
    path = tmp_path / "image.tar"
    if damage == "not a tar":
        path.write_bytes(b"\x00" * 100 + b"garbage")
    elif damage == "two images":
        archive(path, [layer({"a": b"1"})], images=2)
    elif damage == "missing layer":
        archive(path, [layer({"a": b"1"})], diff_ids=["sha256:" + "0" * 64] * 2)
    else:
        with tarfile.open(path, mode="w") as tar:
            for name, data in (("manifest.json", b'[{"Config": "c.json", "Layers": ["l.tar"]}]'), ("c.json", b"{"),
                               ("l.tar", b"")):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    with pytest.raises(BadArchive, match=message):
        read_archive(path)


def test_a_layer_that_is_not_the_one_its_config_names_is_refused(tmp_path):
    honest = layer({"home/kedro/a.py": b"A = 1\n"})
    path = archive(tmp_path / "image.tar", [layer({"home/kedro/a.py": b"A = 2\n"})],
                   diff_ids=["sha256:" + hashlib.sha256(honest).hexdigest()])
    with pytest.raises(BadArchive, match="is not the layer the image config names"):
        list(gzipped_layers(read_archive(path)))


@pytest.mark.skipif(not shutil.which("docker-registry"), reason="needs Debian's docker-registry")
def test_the_image_goes_to_the_registry_from_the_archive_layer_for_layer(tmp_path):
    from containers import start_registry
    from servers import stop

    (tmp_path / "registry").mkdir()
    started = start_registry(tmp_path / "registry")
    try:
        layers = [layer({"home/kedro/a.py": b"A = 1\n"}), layer({"home/kedro/b.py": b"B = 2\n"})]
        image = read_archive(archive(tmp_path / "image.tar", layers))
        client = Registry(started.host, started.username, started.password, actions="pull,push")
        repository = f"acme/pkg-{uuid.uuid4().hex[:8]}"
        digest = push_archive(client, repository, image, ["c" * 40, "kaf-branch-feature"])
        assert set(started.tags(repository)) == {"c" * 40, "kaf-branch-feature"}
        manifest = json.loads(client.manifest(repository, "c" * 40)[0])
        assert client.manifest(repository, "c" * 40)[2] == digest
        assert client.blob(repository, manifest["config"]["digest"]) == image.config
        pushed = [gzip.decompress(client.blob(repository, entry["digest"])) for entry in manifest["layers"]]
        assert pushed == layers  # the very layers the config's diff_ids name, in order
    finally:
        stop(started.proc)


def deploy(folder: Path, tmp_path: Path, **inputs: str):
    """The trusted half as the deploy workflow runs it: the real entrypoint, only the package in the workspace."""
    import subprocess
    import sys

    from conftest import ROOT

    workspace = folder.parent
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8", "KAF_PYTHON": sys.executable,
           "AIRFLOW_HOME": os.environ["AIRFLOW_HOME"], "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": str(workspace),
           "GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
           "GITHUB_EVENT_NAME": "workflow_run", "GITHUB_REPOSITORY": "acme/tiny",
           "INPUT_DEPLOY-PACKAGE": folder.name, "INPUT_BRANCH": "feature/x", "INPUT_COMMIT": "c" * 40,
           "INPUT_IMAGE": "127.0.0.1:1/acme/tiny-preview", "INPUT_OUTPUT": str(tmp_path / "dags"),
           **{f"INPUT_{k.upper().replace('_', '-')}": v for k, v in inputs.items()}}
    return subprocess.run(["bash", str(ROOT / "entrypoint" / "entrypoint.sh")], cwd=workspace, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.airflow
def test_hostile_names_in_the_graph_stay_inert_in_the_trusted_deploy(tmp_path):
    """Names a branch chose reach the DAG the trusted job checks in Airflow's DagBag only as literals."""
    hostile = "x{{ var.value.prod_secret }}\"\"\"; import os; os.system('id') #"
    graph = make_graph([(hostile, ["raw"], ["out"], []), ("b", ["out"], [], [])])
    folder = make_package(tmp_path, graph=graph)
    result = deploy(folder, tmp_path, dry_run="true", deployment="executions: [kubernetes]")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    dag_file = next((folder / "project" / "dag").glob("*.py"))
    source = dag_file.read_text()
    assert "import os; os.system" in source  # as data: inside a string literal the DagBag loaded
    assert "loaded in Airflow's DagBag" in result.stdout
    compile(source, str(dag_file), "exec")


@pytest.mark.airflow
@pytest.mark.parametrize("inputs, message", [
    ({}, "run_config.namespace: 'kube-system' is not allowed here"),
    ({"branch": "main"}, "the trusted deployer deploys previews: 'main' is the default branch"),
    ({"commit": ""}, "deploy-package needs the branch and commit of the triggering event"),
])
def test_refused_settings_and_events_stop_the_trusted_deploy(tmp_path, inputs, message):
    folder = make_package(tmp_path, {"namespace": "kube-system"})
    result = deploy(folder, tmp_path, **inputs)
    assert result.returncode == 3, (result.stdout + result.stderr)[-3000:]
    assert message in result.stdout.replace("%0A", "\n")
    assert not (tmp_path / "dags").exists()


def test_a_planted_file_stops_the_trusted_deploy_before_anything_is_read(tmp_path):
    folder = make_package(tmp_path)
    (folder / "project" / "conf" / "base" / "hooks.py").write_text("raise SystemExit('ran')\n")
    result = deploy(folder, tmp_path)
    assert result.returncode == 3 and "project/conf/base/hooks.py" in result.stdout, result.stdout[-3000:]
