"""YAML a branch wrote is read with bounds (README, "Security model"): aliases that expand to millions
of values, deep nesting and huge files are refused before anything walks them."""

from __future__ import annotations

import time

import pytest
import yaml

from kedro_af_ci.config import load_config
from kedro_af_ci.config.substitution import Substitution
from kedro_af_ci.errors import ConfigError
from kedro_af_ci.guards.bounded_yaml import MAX_NODES, YamlLimitError, load_bounded

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project


def laughs(levels: int) -> str:
    """Each level a list of nine aliases of the level below: 9**levels strings once expanded."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_alias_expansion_is_refused_before_anything_walks_it():
    small = yaml.safe_load(laughs(4))  # what safe_load builds is small: the parts are shared...
    walked = Substitution({}, lambda: None).walk(small)  # ...until the config is walked (merge, substitute)
    assert sum(len(str(v)) for v in walked.values()) > 9**4  # every alias expanded: the attack is real
    start = time.monotonic()
    with pytest.raises(YamlLimitError, match=f"more than {MAX_NODES}"):
        load_bounded(laughs(9))  # 387 million strings once walked
    assert time.monotonic() - start < 5


def test_a_config_file_over_a_bound_is_a_config_error_naming_it(tmp_path):
    conf = tmp_path / "conf" / "base"
    conf.mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("[tool.kedro]\npackage_name = 'p'\n")
    (conf / "airflow-k8s.yaml").write_text(laughs(9) + "run_config: {image: a:1}\n")
    with pytest.raises(ConfigError, match=r"airflow-k8s.yaml: YAML aliases expand to more than"):
        load_config(tmp_path, environ={})
    (conf / "airflow-k8s.yaml").write_text("x: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ConfigError, match=r"nested too deeply|over the limit"):
        load_config(tmp_path, environ={})


def test_ordinary_anchors_and_merges_still_work():
    data = load_bounded("base: &base {cpu: '1', memory: 1Gi}\nbig: {<<: *base, cpu: '4'}\n")
    assert data["big"] == {"cpu": "4", "memory": "1Gi"}


def test_a_huge_file_is_refused_by_its_size():
    with pytest.raises(YamlLimitError, match="over the limit"):
        load_bounded("a: " + "x" * 2_000_000)
