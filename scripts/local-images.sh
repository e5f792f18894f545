#!/usr/bin/env bash
# Local stand-ins for the public base images, for machines that cannot pull from a public registry
# (this project's CI). Each image is made from Debian packages and tagged with the hash of its
# recipe (the function that makes it), so a machine builds it once and later runs find it.
#
#   scripts/local-images.sh python      -> prints kaf-local/python:<hash>      (python:3.x-slim stand-in)
#   scripts/local-images.sh docker-cli  -> prints kaf-local/docker-cli:<hash>  (docker:cli stand-in, with buildx)
#   scripts/local-images.sh gitlab-util -> tags firecow/gitlab-ci-local-util:latest (rsync, for gitlab-ci-local)
#
# The Python image: debootstrap minbase of bookworm with python3 (venv, pip), git, rsync and the CA
# certificates; the machine's extra CA certificates are added (pip inside builds goes through this
# machine's TLS-inspecting egress), and pip is told to use the system bundle.
set -Eeuo pipefail

cache="${KAF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kedro-af-ci}"
mirror="${KAF_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p; s/^deb \(http[^ ]*\) bookworm .*/\1/p' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null | head -n1 || true)}"
mirror="${mirror:-http://deb.debian.org/debian}"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }
recipe_hash() { declare -f "$@" | sha256sum | cut -c1-12; }
mkdir -p "$cache"
log="$cache/local-images.log"

python_image() {
  local name
  name="kaf-local/python:$(recipe_hash python_image)"
  if have_image "$name"; then echo "$name"; return; fi
  local tarball="$cache/${name//:/-}.tar"
  tarball="${tarball/kaf-local\//kaf-local-}"
  if [[ ! -s "$tarball" ]]; then
    local root
    root="$(mktemp -d "${TMPDIR:-/tmp}/kaf-rootfs-XXXXXX")"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates,git,rsync,procps \
      bookworm "$root" "$mirror" >>"$log" 2>&1 || { tail -n 20 "$log" >&2; exit 1; }
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
    chroot "$root" update-ca-certificates >>"$log" 2>&1
    rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$root/etc/pip.conf"
    ln -sf python3 "$root/usr/bin/python"
    # the official Debian images' apt settings: no package cache left in layers
    printf 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\n' \
      > "$root/etc/apt/apt.conf.d/docker-clean"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*.log
    tar -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
  fi
  docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' "$tarball" "$name" >/dev/null
  echo "$name"
}

buildx_plugin() {
  # docker:cli images carry the buildx plugin (BuildKit builds); Debian packages it from trixie on, a
  # static binary. Fetched with apt from trixie's signed index (its own state folder: the machine's
  # sources stay as they are) and cached by the package's file name.
  local state deb
  deb="$(ls "$cache"/docker-buildx_*.deb 2>/dev/null | head -n1 || true)"
  if [[ -z "$deb" ]]; then
    state="$(mktemp -d "${TMPDIR:-/tmp}/kaf-apt-XXXXXX")"
    mkdir -p "$state/parts" "$state/lists/partial" "$state/cache" "$state/get"
    printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" > "$state/parts/trixie.sources"
    local opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$state/parts" -o Debug::NoLocking=1
                -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache" -o APT::Sandbox::User=root)
    { apt-get "${opts[@]}" update && (cd "$state/get" && apt-get "${opts[@]}" download docker-buildx); } >>"$log" 2>&1 \
      || { tail -n 20 "$log" >&2; rm -rf "$state"; exit 1; }
    deb="$(ls "$state"/get/docker-buildx_*.deb)"
    mv "$deb" "$cache/" && deb="$cache/$(basename "$deb")"
    rm -rf "$state"
  fi
  dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/libexec/docker/cli-plugins/docker-buildx > "$1"
  chmod 755 "$1"
}

docker_cli_image() {
  # the python stand-in plus this machine's docker client and Debian's buildx plugin, where docker:cli has them
  local name
  name="kaf-local/docker-cli:$(recipe_hash python_image docker_cli_image buildx_plugin)"
  if have_image "$name"; then echo "$name"; return; fi
  local base context
  base="$(python_image)"
  context="$(mktemp -d "${TMPDIR:-/tmp}/kaf-docker-cli-XXXXXX")"
  cp "$(command -v docker)" "$context/docker"
  buildx_plugin "$context/docker-buildx"
  printf 'FROM %s\nCOPY docker /usr/local/bin/docker\nCOPY docker-buildx /usr/local/libexec/docker/cli-plugins/docker-buildx\n' \
    "$base" > "$context/Dockerfile"
  docker build --quiet --tag "$name" "$context" >>"$log" 2>&1
  rm -rf "$context"
  echo "$name"
}

gitlab_util_image() {
  local base
  base="$(python_image)"
  docker tag "$base" firecow/gitlab-ci-local-util:latest
  echo firecow/gitlab-ci-local-util:latest
}

case "${1:-}" in
  python) python_image ;;
  docker-cli) docker_cli_image ;;
  gitlab-util) gitlab_util_image ;;
  *) echo "usage: $0 python|docker-cli|gitlab-util" >&2; exit 2 ;;
esac
