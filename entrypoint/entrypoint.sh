#!/usr/bin/env bash
# Entrypoint of the action image.
#   no arguments:  the container action (GitHub Actions, GitLab CI job, `docker run` with INPUT_*)
#   arguments:     the CLI itself, e.g. `docker run IMAGE compile -e prod`
# Every input goes to Python through the environment, never through this shell: nothing a branch
# name or an input contains is ever expanded or evaluated here.
set -Eeuo pipefail

workspace="${GITHUB_WORKSPACE:-${CI_PROJECT_DIR:-$PWD}}"

# The checkout belongs to another user than the container's: let git (and gitpython) read it,
# through git's environment configuration, without writing any config file.
count="${GIT_CONFIG_COUNT:-0}"
export "GIT_CONFIG_KEY_${count}=safe.directory" "GIT_CONFIG_VALUE_${count}=${workspace}"
export GIT_CONFIG_COUNT=$((count + 1))
export KEDRO_DISABLE_TELEMETRY="${KEDRO_DISABLE_TELEMETRY:-true}" DO_NOT_TRACK="${DO_NOT_TRACK:-1}"
python_bin="${KAF_PYTHON:-python}"

# -P: the current directory (the workspace, whose files a branch controls) is never on the tool's
# import path, so a committed yaml.py or click.py cannot run inside the process holding the secrets.
if [[ $# -gt 0 ]]; then
  exec "$python_bin" -P -m kedro_af_ci.cli "$@"
fi
cd "$workspace"
exec "$python_bin" -P -m kedro_af_ci.action
