# Image of the container action (GitHub Actions, GitLab CI job image, `docker run`), published as
# ghcr.io/getindata/kedro-airflow-k8s-action:<version> by .github/workflows/release.yml.
# Contents: this tool, Airflow and the providers every generated DAG may import (for the
# pre-flight DagBag check), git, and the docker CLI (to build the project image through the
# runner's Docker engine). Nothing else: the Google provider (Dataproc) is a variant
# (EXTRA_REQUIREMENTS=requirements/action-google.txt); without it the pre-flight names it.
# Runs as root, as GitHub expects of container actions (the workspace belongs to the runner).
#
# Base images are build arguments so the image builds where public registries are out of reach:
#   docker build --build-arg PYTHON_IMAGE=my-mirror/python:3.12-slim-bookworm ...
ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm
ARG DOCKER_CLI_IMAGE=docker:27.4.1-cli

FROM ${DOCKER_CLI_IMAGE} AS docker-cli
# the CLI and its buildx plugin when the image has one (BuildKit builds); nothing else of the image
RUN mkdir -p /out/cli-plugins \
    && cp /usr/local/bin/docker /out/docker \
    && if [ -f /usr/local/libexec/docker/cli-plugins/docker-buildx ]; then \
         cp /usr/local/libexec/docker/cli-plugins/docker-buildx /out/cli-plugins/; fi

FROM ${PYTHON_IMAGE} AS wheel
WORKDIR /src
COPY pyproject.toml README.md action.yml ./
COPY workflows-templates ./workflows-templates
COPY kedro_af_ci ./kedro_af_ci
RUN python3 -m pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM ${PYTHON_IMAGE}
ARG EXTRA_REQUIREMENTS=""
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/kaf \
    PATH=/opt/kaf/bin:$PATH \
    AIRFLOW_HOME=/tmp/airflow \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    KEDRO_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=1 \
    KAF_OPTIONAL_REQUIREMENTS=/opt/kaf/requirements
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# git reads the checkout (commit id, branch); installed only when the base image lacks it. Debian
# security updates replace exact versions, so the base image's tag is what pins the release.
# hadolint ignore=DL3008
RUN if ! command -v git >/dev/null; then \
      apt-get update \
      && apt-get install -y --no-install-recommends git ca-certificates \
      && rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=docker-cli /out/docker /usr/local/bin/docker
COPY --from=docker-cli /out/cli-plugins/ /usr/local/libexec/docker/cli-plugins/
COPY requirements/action.txt requirements/action-constraints.txt requirements/action-google.txt \
     requirements/action-no-deps.txt /opt/kaf/requirements/
COPY --from=wheel /dist/ /tmp/dist/
# uv (in a throwaway venv) resolves and installs in seconds; the tool's venv gets no pip.
# action-no-deps.txt: providers whose operators import without their heavy dependencies.
# Then one warm-up compile byte-compiles exactly the modules a run imports (see warm_up.py).
RUN python3 -m venv --without-pip /opt/kaf \
    && python3 -m venv /tmp/uv && /tmp/uv/bin/pip install --no-cache-dir uv==0.13.9 \
    && wheel="$(ls /tmp/dist/*.whl)" \
    && extra=(); if [ -n "${EXTRA_REQUIREMENTS}" ]; then extra=(-r "/opt/kaf/${EXTRA_REQUIREMENTS}"); fi \
    && /tmp/uv/bin/uv pip install --python /opt/kaf/bin/python --no-cache --native-tls \
       -c /opt/kaf/requirements/action-constraints.txt \
       "${wheel}[gcp,aws]" -r /opt/kaf/requirements/action.txt "${extra[@]}" \
    && /tmp/uv/bin/uv pip install --python /opt/kaf/bin/python --no-cache --native-tls --no-deps \
       -r /opt/kaf/requirements/action-no-deps.txt \
    && rm -rf /tmp/uv /tmp/dist \
    && env -u PYTHONDONTWRITEBYTECODE python -m kedro_af_ci.action.warm_up \
    && rm -rf /tmp/airflow /root/.cache \
    && kedro-af-ci --version
COPY entrypoint/entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
