"""Production's targets, out of a branch's reach (README, "Security model": isolated previews).

A branch's job runs with the preview environment's settings; production's DAGs folder, Airflow and image
repository belong to the default branch's deploy alone. Where the deployment names them
(``deployment.production``), a branch's run aimed at one of them is refused before anything is built: a
variable set at the repository's level instead of the environment's would otherwise hand every branch
production's targets (and the credentials that write them).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .model import ProductionTargets


@dataclass(frozen=True)
class Aimed:
    """Where a run is about to write: each may be empty (not used by this run)."""

    output: str
    airflow_host: str
    image: str  # a repository, a tag or a digest


def _location(value: str) -> str:
    return value.strip().removeprefix("file://").rstrip("/")


def _origin(value: str) -> str:
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    port = parts.port if parts.port != {"https": 443, "http": 80}.get(scheme) else None
    return f"{scheme}://{(parts.hostname or '').lower()}{f':{port}' if port else ''}"


def _repository(value: str) -> str:
    name = value.strip().split("@", 1)[0]
    name = name[:name.rfind(":")] if ":" in name.rsplit("/", 1)[-1] else name
    return name.lower()


def production_targets_hit(aimed: Aimed, production: ProductionTargets) -> list[tuple[str, str]]:
    """(setting, value) of each of production's targets that ``aimed`` names."""
    checks = (("output", aimed.output, production.outputs, _location),
              ("airflow-host", aimed.airflow_host, production.airflow_hosts, _origin),
              ("image", aimed.image, production.images, _repository))
    return [(setting, value) for setting, value, targets, same in checks
            if value and same(value) in {same(t) for t in targets}]
