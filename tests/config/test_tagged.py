"""Tagged unions read from the models: the spark section and the failure handlers, for the key reference
and the error messages."""

from __future__ import annotations

import pytest

from kedro_af_ci.config import CustomSpark, DataprocSpark, KubernetesSpark, RunConfig, SlackFailureHandler
from kedro_af_ci.config.tagged import tagged_union

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project


def test_the_spark_section_is_a_union_tagged_by_type():
    tagged = tagged_union(RunConfig.model_fields["spark"].annotation)  # AnySpark | None
    assert tagged is not None and tagged.key == "type"
    assert tagged.members == {"kubernetes": KubernetesSpark, "dataproc": DataprocSpark, "custom": CustomSpark}
    assert tagged.tags_of("region") == ["dataproc", "custom"] and tagged.tags_of("conn_id") == ["kubernetes"]
    assert tagged.tags_of("type") == ["kubernetes", "dataproc", "custom"] and tagged.tags_of("nope") == []


def test_a_list_of_tagged_items_and_plain_fields():
    from typing import get_args

    handlers = tagged_union(get_args(RunConfig.model_fields["failure_handlers"].annotation)[0])
    assert handlers is not None and handlers.members == {"slack": SlackFailureHandler}
    assert tagged_union(RunConfig.model_fields["image"].annotation) is None
    assert tagged_union(RunConfig.model_fields["resources"].annotation) is None
