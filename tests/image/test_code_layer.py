"""The code layer is the same bytes for the same commit, whatever order, owner names and folders
above the destination Docker's copy came with; the destination and the folders above it are said again
as the built image has them (a layer without them would make them root's)."""

from __future__ import annotations

import io
import tarfile

import pytest

from kedro_af_ci.image.code_layer import _normalised, folders_of, with_folders

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

FILES = {"home/kedro/src/nodes.py": b"X = 1\n", "home/kedro/conf/base/catalog.yml": b"a: 1\n"}


def docker_layer(order: list[str], uname: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in ["home", "home/kedro", "home/kedro/src", "home/kedro/conf", "home/kedro/conf/base"]:
            info = tarfile.TarInfo(name + "/")
            info.type, info.mode, info.uid, info.uname = tarfile.DIRTYPE, 0o755, 999, uname
            tar.addfile(info)
        for name in order:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.uname, info.mtime = len(FILES[name]), 0o644, 999, uname, 1.5e9
            tar.addfile(info, io.BytesIO(FILES[name]))
    return out.getvalue()


def test_the_same_files_give_the_same_layer():
    one = _normalised(docker_layer(sorted(FILES), "kedro"), "/home/kedro")
    two = _normalised(docker_layer(sorted(FILES, reverse=True), "other"), "/home/kedro")
    assert one.gzipped == two.gzipped and one.diff_id == two.diff_id
    assert sorted(one.files) == ["conf", "conf/base", "conf/base/catalog.yml", "src", "src/nodes.py"]
    assert one.files["src/nodes.py"].data == b"X = 1\n" and one.files["src/nodes.py"].mode == 0o644
    with tarfile.open(fileobj=io.BytesIO(one.tar)) as tar:
        names = tar.getnames()
        assert "home" not in names and "home/kedro" not in names  # said by with_folders, from the built image
        assert {m.uname for m in tar.getmembers()} == {""} and {m.uid for m in tar.getmembers()} == {999}


def test_a_changed_file_changes_the_layer():
    one = _normalised(docker_layer(sorted(FILES), "kedro"), "/home/kedro")
    FILES["home/kedro/src/nodes.py"] = b"X = 2\n"
    try:
        assert _normalised(docker_layer(sorted(FILES), "kedro"), "/home/kedro").diff_id != one.diff_id
    finally:
        FILES["home/kedro/src/nodes.py"] = b"X = 1\n"


def test_the_destination_and_the_folders_above_it_are_said_as_the_built_image_has_them():
    layer = _normalised(docker_layer(sorted(FILES), "kedro"), "/home/kedro")
    traced = [["/home/kedro", 0o750, 999, 0], ["/home", 0o755, 0, 0]]  # what the extraction saw in the image
    made = with_folders(layer, folders_of(traced, "/home/kedro"), mtime=1_500_000_000)
    with tarfile.open(fileobj=io.BytesIO(made.tar)) as tar:
        members = tar.getmembers()
    assert [(m.name, m.isdir(), m.mode, m.uid, m.gid) for m in members[:2]] == [
        ("home", True, 0o755, 0, 0), ("home/kedro", True, 0o750, 999, 0)]  # before anything inside them
    assert [m.name for m in members[2:]] == [f"home/kedro/{name}" for name in sorted(layer.files)]
    assert made.files == layer.files  # what the graph depends on is the code, not its folders
    again = with_folders(layer, folders_of(traced, "/home/kedro"), mtime=1_500_000_000)
    assert again.gzipped == made.gzipped  # reproducible


@pytest.mark.parametrize("traced", [
    [["/home/kedro", 0o750, 999, 0]],  # a folder above it left out
    [["/home/kedro", 0o750, 999, 0], ["/etc", 0o755, 0, 0]],  # another folder
    [["/home/kedro", 0o4750, 999, 0], ["/home", 0o755, 0, -1]],  # an id out of range
    [["/home/kedro", 0o750, 999, "0"], ["/home", 0o755, 0, 0]],
    {"/home/kedro": 1},
])
def test_folders_that_are_not_the_destination_and_those_above_it_are_refused(traced):
    with pytest.raises(ValueError):
        folders_of(traced, "/home/kedro")
