# Action image (minimal for now: compile only). The container-action issue adds the docker CLI,
# pinned constraints and the full entrypoint.
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /opt/kedro-af-ci
COPY pyproject.toml README.md ./
COPY kedro_af_ci ./kedro_af_ci
RUN pip install --no-cache-dir .
COPY entrypoint/entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
