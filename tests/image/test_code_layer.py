"""The code layer is the same bytes for the same commit, whatever order, owner names and folders
above the destination Docker's copy came with; the lower layers keep their say over those folders."""

from __future__ import annotations

import io
import tarfile

from kedro_af_ci.image.code_layer import _normalised

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
        assert "home" not in names and "home/kedro" not in names  # their owner and mode stay the base's
        assert {m.uname for m in tar.getmembers()} == {""} and {m.uid for m in tar.getmembers()} == {999}


def test_a_changed_file_changes_the_layer():
    one = _normalised(docker_layer(sorted(FILES), "kedro"), "/home/kedro")
    FILES["home/kedro/src/nodes.py"] = b"X = 2\n"
    try:
        assert _normalised(docker_layer(sorted(FILES), "kedro"), "/home/kedro").diff_id != one.diff_id
    finally:
        FILES["home/kedro/src/nodes.py"] = b"X = 1\n"
