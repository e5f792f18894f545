# Image of the container action (GitHub Actions `uses:`, GitLab CI job image, `docker run`).
# Contents: this tool installed from its wheel, Airflow + the providers the generated DAGs import
# (for the pre-flight check), git, and the docker CLI (to build the project image through the
# runner's Docker socket). Runs as root, as GitHub expects of container actions (the mounted
# workspace and /github/home belong to the runner).

FROM python:3.12.8-slim-bookworm AS wheel
WORKDIR /src
COPY pyproject.toml README.md action.yml ./
COPY kedro_af_ci ./kedro_af_ci
COPY workflows-templates ./workflows-templates
RUN pip install --no-cache-dir build==1.2.2.post1 && python -m build --wheel --outdir /dist

FROM docker:27.4.1-cli AS docker-cli

FROM python:3.12.8-slim-bookworm
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AIRFLOW_HOME=/tmp/airflow \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    KEDRO_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# git reads the checkout (commit id, branch); Debian security updates replace exact versions, so
# the base image's tag is what pins the release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=docker-cli /usr/local/libexec/docker/cli-plugins/docker-buildx /usr/local/libexec/docker/cli-plugins/docker-buildx
COPY requirements/action.txt requirements/action-constraints.txt /tmp/requirements/
COPY --from=wheel /dist/ /tmp/dist/
RUN wheel="$(ls /tmp/dist/*.whl)" \
    && pip install --no-cache-dir -c /tmp/requirements/action-constraints.txt \
       "${wheel}[gcp,aws]" -r /tmp/requirements/action.txt \
    && rm -rf /tmp/dist /tmp/requirements \
    && kedro-af-ci --version
COPY entrypoint/entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
