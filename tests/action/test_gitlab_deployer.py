"""The GitLab deployer unpacks a branch's artifacts as data (action/gitlab_deployer.py): a zip crafted as an
attacker would craft it is refused before anything of it is read."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from kedro_af_ci.action import gitlab_deployer
from kedro_af_ci.action.gitlab_deployer import BadArtifacts, unpack_artifacts

pytestmark = pytest.mark.unit
FOLDER = "kedro-airflow-k8s-package"


def archive(tmp_path, *entries: tuple[str, bytes, int]) -> object:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zipped.writestr(info, data)
    path = tmp_path / "artifacts.zip"
    path.write_bytes(buffer.getvalue())
    return path


def test_a_package_folder_is_unpacked(tmp_path):
    path = archive(tmp_path, (f"{FOLDER}/", b"", stat.S_IFDIR | 0o755),
                   (f"{FOLDER}/graph.json", b"{}", stat.S_IFREG | 0o644),
                   (f"{FOLDER}/project/conf/base/airflow-k8s.yaml", b"host: x", stat.S_IFREG | 0o644))
    unpack_artifacts(path, tmp_path / "out")
    assert (tmp_path / "out" / FOLDER / "graph.json").read_bytes() == b"{}"
    assert (tmp_path / "out" / FOLDER / "project/conf/base/airflow-k8s.yaml").is_file()


@pytest.mark.parametrize(("name", "mode", "why"), [
    ("../evil.py", stat.S_IFREG | 0o644, "not inside"),
    (f"{FOLDER}/../../evil.py", stat.S_IFREG | 0o644, "not inside"),
    ("/etc/cron.d/evil", stat.S_IFREG | 0o644, "not inside"),
    ("elsewhere/evil.py", stat.S_IFREG | 0o644, "not inside"),
    (f"{FOLDER}\\..\\evil.py", stat.S_IFREG | 0o644, "not inside"),
    (f"{FOLDER}/graph.json", stat.S_IFLNK | 0o777, "a link"),
    (f"{FOLDER}/fifo", stat.S_IFIFO | 0o644, "a link or a device"),
])
def test_an_entry_out_of_the_package_or_not_a_file_is_refused(tmp_path, name, mode, why):
    path = archive(tmp_path, (name, b"/etc/passwd", mode))
    with pytest.raises(BadArtifacts, match=why):
        unpack_artifacts(path, tmp_path / "out")
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "out" / FOLDER / "graph.json").is_symlink()


def test_too_many_entries_or_bytes_are_refused_as_written_not_as_claimed(tmp_path, monkeypatch):
    monkeypatch.setattr(gitlab_deployer, "MAX_MEMBERS", 3)
    many = archive(tmp_path, *((f"{FOLDER}/f{i}", b"x", stat.S_IFREG | 0o644) for i in range(4)))
    with pytest.raises(BadArtifacts, match="4 entries"):
        unpack_artifacts(many, tmp_path / "out")
    monkeypatch.setattr(gitlab_deployer, "MAX_MEMBERS", 100)
    monkeypatch.setattr(gitlab_deployer, "MAX_ARCHIVE", 1000)
    big = archive(tmp_path, (f"{FOLDER}/a", b"0" * 600, stat.S_IFREG | 0o644), (f"{FOLDER}/b", b"0" * 600,
                                                                                stat.S_IFREG | 0o644))
    with pytest.raises(BadArtifacts, match="over"):
        unpack_artifacts(big, tmp_path / "out2")


def test_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "artifacts.zip"
    path.write_bytes(b"<html>a login page</html>")
    with pytest.raises(BadArtifacts, match="not a readable zip"):
        unpack_artifacts(path, tmp_path / "out")


@pytest.mark.filterwarnings("ignore:Duplicate name")  # zipfile's, writing the crafted archive
def test_an_entry_twice_or_a_file_where_a_folder_goes_is_refused(tmp_path):
    twice = archive(tmp_path, (f"{FOLDER}/graph.json", b"{}", stat.S_IFREG | 0o644),
                    (f"{FOLDER}/graph.json", b"[]", stat.S_IFREG | 0o644))
    with pytest.raises(BadArtifacts, match="do not unpack"):
        unpack_artifacts(twice, tmp_path / "out")
    under_a_file = archive(tmp_path, (f"{FOLDER}/project", b"x", stat.S_IFREG | 0o644),
                           (f"{FOLDER}/project/pyproject.toml", b"x", stat.S_IFREG | 0o644))
    with pytest.raises(BadArtifacts, match="do not unpack"):
        unpack_artifacts(under_a_file, tmp_path / "out2")


def context(tmp_path, image: str, **environ: str):
    from types import SimpleNamespace

    inputs = SimpleNamespace(image=image, gitlab_packages_from="acme/spaceflights", gitlab_api="", insecure=False,
                             package_job="kedro-airflow-k8s-package")
    return SimpleNamespace(inputs=inputs, environ=environ, workspace=tmp_path, reporter=None, summary=None)


@pytest.mark.parametrize(("image", "project"), [
    ("registry.gitlab.example/acme/spaceflights", "acme/spaceflights"),
    ("registry.gitlab.example/acme/spaceflights/previews", "Acme/SpaceFlights")])
def test_previews_are_never_pushed_to_the_source_projects_registry(tmp_path, image, project):
    from kedro_af_ci.errors import ConfigError

    ctx = context(tmp_path, image, CI_REGISTRY="registry.gitlab.example")
    with pytest.raises(ConfigError, match="every branch job's token"):  # GitLab's registry paths are lower case
        gitlab_deployer._refuse_source_registry(ctx, project)
    gitlab_deployer._refuse_source_registry(context(tmp_path, "registry.gitlab.example/acme/deployer/previews",
                                                    CI_REGISTRY="registry.gitlab.example"), "acme/spaceflights")
    gitlab_deployer._refuse_source_registry(context(tmp_path, "registry.gitlab.example/acme/spaceflights-previews",
                                                    CI_REGISTRY="registry.gitlab.example"), "acme/spaceflights")


def test_a_branch_list_without_the_default_branch_deploys_and_prunes_nothing(tmp_path):
    """A list that lacks the default branch cannot be every branch: pruning by it would delete live DAGs."""
    from fake_gitlab import FakeGitLab, serve

    from kedro_af_ci.errors import UploadError

    fake = FakeGitLab("acme/spaceflights", "t" * 20, branches={"feature/x": "b" * 40})
    api, server = serve(fake)
    ctx = context(tmp_path, "registry.example/previews/app", GITLAB_SOURCE_TOKEN="t" * 20)
    ctx.inputs.gitlab_api, ctx.reporter = api, _Reporter()
    try:
        with pytest.raises(UploadError, match="no default branch 'main'"):
            gitlab_deployer.deploy_new_packages(ctx, run_steps=None)
    finally:
        server.shutdown()
    assert not any(path.endswith("/artifacts") for path in fake.requests)


class _Reporter:
    def mask(self, value: str) -> None:
        pass
