#!/usr/bin/env bash
# Minimal entrypoint: compile the project from the action inputs. Completed by the action issue.
set -Eeuo pipefail
args=(--project-path "${INPUT_PROJECT_PATH:-.}" --pipeline "${INPUT_PIPELINE:-__default__}")
if [[ -n "${INPUT_ENV:-}" ]]; then args+=(--env "$INPUT_ENV"); fi
exec kedro-af-ci "${args[@]}" compile "$@"
