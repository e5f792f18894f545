#!/usr/bin/env bash
# Write requirements/lock/<name>.txt from each environment: every installed package pinned, this
# project itself left out. Usage: freeze-lock.sh <uv> <venv>:<name>...
set -euo pipefail
uv=$1
shift
for pair in "$@"; do
  venv=${pair%%:*}
  name=${pair##*:}
  {
    echo "# Constraints: every package of $(basename "$venv") as it passed the whole suite (make lock regenerates this file;"
    echo "# docs/contributing.md, \"Locked environments\"). Unpinned transitive releases cannot break CI."
    "$uv" pip freeze --python "$venv/bin/python" 2>/dev/null | grep '==' | grep -iv '^kedro-airflow-k8s-action=='
  } > "requirements/lock/$name.txt"
done
