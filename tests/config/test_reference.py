"""README's config reference is generated from the config models: every key is described there, and
the README table is the generated one."""

from __future__ import annotations

import pytest
from conftest import ROOT

from kedro_af_ci.config import (
    CustomSpark,
    DataprocSpark,
    KubernetesSpark,
    PluginConfig,
    RunConfig,
    spark_config,
)
from kedro_af_ci.config.reference import END, START, markdown_table, rows
from kedro_af_ci.policy.reference import COMMAND, DEPLOYMENT_END, DEPLOYMENT_START, DOCUMENTS, main, with_references

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project


def test_the_key_references_are_generated_from_the_models():
    """The config's keys in docs/configuration.md, the deployment's settings in README.md; each once."""
    texts = {name: (ROOT / name).read_text(encoding="utf-8") for name in DOCUMENTS}
    for name, text in texts.items():
        assert with_references(text) == text, f"{name}'s key reference differs from the models: run `{COMMAND}`"
    assert START in texts["docs/configuration.md"] and DEPLOYMENT_START in texts["README.md"]


def test_every_deployment_setting_has_a_description():
    from kedro_af_ci.policy.model import DeploymentPolicy

    assert [row.key for row in rows(DeploymentPolicy) if not row.description.strip()] == []


def test_every_key_has_a_description():
    undescribed = [row.key for row in rows() if not row.description.strip()]
    assert undescribed == []


def test_reference_walks_nested_sections_with_dotted_keys():
    by_key = {row.key: row for row in rows()}
    assert by_key["run_config.volume.size"].default == "`1Gi`"
    assert by_key["run_config.resources.<name>.tolerations[].effect"].type == (
        "`NoSchedule`, `PreferNoSchedule` or `NoExecute`")
    assert by_key["run_config.secrets[].secret"].default == "required"
    assert by_key["run_config.execution"].type == "`kubernetes`, `docker` or `local`"
    assert by_key["run_config.execution"].default == "`kubernetes`"
    assert by_key["run_config.spark.local_storage_size"].default == "`null`"
    assert by_key["run_config.volume.access_modes"].default == "`[ReadWriteOnce]`"
    # every model field, and nothing else
    assert len([k for k in by_key if k.count(".") == 1 and k.startswith("run_config.")]) == len(RunConfig.model_fields)
    assert {k.removeprefix("run_config.spark.") for k in by_key if k.startswith("run_config.spark.")} == set(
        KubernetesSpark.model_fields) | set(DataprocSpark.model_fields) | set(CustomSpark.model_fields)
    assert [k for k in by_key if "." not in k] == list(PluginConfig.model_fields)


def test_the_spark_keys_say_the_types_they_apply_to_and_those_requiring_them():
    """The spark section is one model per type: each key is listed once, with its types and defaults."""
    by_key = {row.key: row for row in rows()}
    spark = {key.removeprefix("run_config.spark."): row for key, row in by_key.items()
             if key.startswith("run_config.spark.")}
    assert (spark["type"].type, spark["type"].default) == ("`kubernetes`, `dataproc` or `custom`", "required")
    assert "(or `k8s`)" in spark["type"].description
    assert spark["conn_id"].description.startswith("(type kubernetes) Airflow connection")
    assert spark["conn_id"].default == "`spark_default`"
    assert spark["region"].description.startswith("(type dataproc or custom) Cloud region")
    assert spark["region"].default == "required by `dataproc`, else `null`"
    assert spark["operator_factory"].default == "required by `custom`, else `null`"
    assert spark["artifacts_path"].default == "required"  # by both types that have it
    assert spark["archive_exclude"].default == "`[]`"
    assert by_key["run_config.spark"].type == "mapping"


def test_a_pipe_in_a_description_cannot_break_the_table():
    for line in markdown_table().splitlines():
        cells = line.replace("\\|", "").split("|")
        assert len(cells) == 6, line


def test_write_then_check(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n{START}\nstale\n{END}\nafter\n{DEPLOYMENT_START}\n{DEPLOYMENT_END}\n",
                      encoding="utf-8")
    other = tmp_path / "other.md"
    other.write_text("no markers here\n")
    assert main(["--check", str(readme), str(other)]) == 1
    assert COMMAND in capsys.readouterr().err
    assert main(["--write", str(readme), str(other)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\nbefore\n") and f"{END}\nafter\n" in text and "stale" not in text
    assert markdown_table() in text and other.read_text() == "no markers here\n"
    assert main(["--check", str(readme), str(other)]) == 0


def test_modes_stay_enums_that_print_as_their_values():
    """Modes stay typed after validation (Execution, Grouping, SparkType), and every way of printing one
    (str, f-string, repr, the DAG's literal encoder) writes the plain value, never Execution.DOCKER."""
    from kedro_af_ci.config import Execution, Grouping, SparkType
    from kedro_af_ci.render.templating import py

    rc = RunConfig.model_validate({"image": "a:1", "execution": "docker", "grouping": "tag"})
    default = RunConfig.model_validate({"image": "a:1"})
    spark = spark_config({"type": "k8s"})
    for value, kind, text in ((rc.execution, Execution, "docker"), (rc.grouping, Grouping, "tag"),
                              (default.execution, Execution, "kubernetes"), (default.grouping, Grouping, "auto"),
                              (spark.type, SparkType, "kubernetes")):
        assert type(value) is kind and value == text
        assert (str(value), f"{value}", repr(value), py(value)) == (text, text, repr(text), repr(text))


def test_every_config_snippet_in_readme_is_a_valid_config(tmp_path):
    """README's airflow-k8s.yaml examples load as they are written (with an image, as a file needs)."""
    import re

    import yaml
    from conftest import ROOT, make_config

    snippets = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(),
                                                             flags=re.S) if block.startswith("run_config:")]
    assert len(snippets) >= 2
    for i, snippet in enumerate(snippets):
        make_config(tmp_path / str(i), {"image": "a:1", **snippet["run_config"]})
