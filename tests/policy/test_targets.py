"""Production's targets as the deployment names them, matched the way each is used (policy/targets.py)."""

from __future__ import annotations

import pytest

from kedro_af_ci.policy.model import ProductionTargets
from kedro_af_ci.policy.targets import Aimed, production_targets_hit

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

PRODUCTION = ProductionTargets(outputs=["gs://prod/dags/"], airflow_hosts=["https://airflow.prod.example"],
                               images=["europe-docker.pkg.dev/acme/ml/app"])


def test_each_of_productions_targets_is_recognised_however_it_is_written():
    aimed = Aimed("gs://prod/dags", "HTTPS://Airflow.Prod.Example:443/home", "europe-docker.pkg.dev/acme/ml/app:abc")
    assert production_targets_hit(aimed, PRODUCTION) == [
        ("output", "gs://prod/dags"), ("airflow-host", "HTTPS://Airflow.Prod.Example:443/home"),
        ("image", "europe-docker.pkg.dev/acme/ml/app:abc")]
    digest = "europe-docker.pkg.dev/acme/ml/app@sha256:" + "0" * 64
    assert production_targets_hit(Aimed("", "", digest), PRODUCTION) == [("image", digest)]


def test_a_previews_own_targets_pass_and_nothing_is_checked_without_the_list():
    preview = Aimed("gs://prod/dags-preview", "https://airflow.prod.example:8443",
                    "europe-docker.pkg.dev/acme/ml/app-pr")
    assert production_targets_hit(preview, PRODUCTION) == []
    assert production_targets_hit(Aimed("gs://prod/dags", "", ""), ProductionTargets()) == []
