#!/usr/bin/env bash
# What the container tests need besides Python packages, installed when this machine lacks it:
# Debian's docker.io (the engine; the tests start dockerd themselves), docker-registry, debootstrap
# (local base images) and rsync, as root through apt; gitlab-ci-local through npm into .tools/.
# Without root or apt, it says what is missing and the container tests are skipped (failed where
# KAF_REQUIRE_DOCKER=1).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v dockerd >/dev/null || [[ -x /usr/sbin/dockerd ]] || missing+=(docker.io)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v debootstrap >/dev/null || [[ -x /usr/sbin/debootstrap ]] || missing+=(debootstrap)
command -v rsync >/dev/null || missing+=(rsync)
if ((${#missing[@]})); then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
    # the packages must not start their services: dockerd's default bridge network is not wanted here
    policy=/usr/sbin/policy-rc.d
    added_policy=false
    if [[ ! -e "$policy" ]]; then
      printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && added_policy=true
    fi
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    if [[ "$added_policy" == true ]]; then rm -f "$policy"; fi
    echo "installed ${missing[*]}"
  else
    echo "container tests: ${missing[*]} missing (install them as root), the container tests will be skipped" >&2
  fi
fi

# gitlab-ci-local 4.56 (later releases need Node 22)
if [[ ! -x .tools/node_modules/.bin/gitlab-ci-local ]]; then
  if command -v npm >/dev/null; then
    npm install --prefix .tools --no-audit --no-fund --loglevel=error gitlab-ci-local@4.56.2 >/dev/null
    echo "installed gitlab-ci-local $(.tools/node_modules/.bin/gitlab-ci-local --version)"
  else
    echo "container tests: npm missing, gitlab-ci-local cannot be installed" >&2
  fi
fi
