#!/usr/bin/env bash
# Build the stand-in base images when no registry can be reached; skip any whose recipe is unchanged.
#
#   DOCKER_HOST=$(bash tests/compose/docker_engine.sh) bash tests/compose/images.sh
#
# Images (tags say what they carry, not what they replace):
#   local/debian-standin:bookworm            debootstrap --variant=minbase bookworm, `docker import`ed
#   local/airflow-standin:3.3.2-python3.11   for apache/airflow:3.3.2-python3.12 (same layout, Python 3.11)
#   local/postgres-standin:15                for postgres:16 (Debian's PostgreSQL 15, same entrypoint env)
#   local/redis-standin:7.0                  for redis:7 (Debian's Redis 7.0)
# Each image carries the label org.bolsync.recipe-hash (sha256 of its recipe folder, its base image's id
# and, for Airflow, the lock used as constraints); an image whose label matches is not rebuilt.
# Builds use `docker build --network host` (bridge networks have no way out here) and the legacy builder
# (Compose 1.29 and Docker 20.10 here have no BuildKit); pip trusts the host's CA bundle ($PIP_CERT, else
# /etc/ssl/certs/ca-certificates.crt), copied into a temporary build context, never into the repository.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
: "${DOCKER_HOST:?set DOCKER_HOST (bash tests/compose/docker_engine.sh prints it)}"
export DOCKER_HOST DOCKER_BUILDKIT=0

DEBIAN_IMAGE="${BOLSYNC_DEBIAN_IMAGE:-local/debian-standin:bookworm}"
AIRFLOW_IMAGE="${BOLSYNC_AIRFLOW_STANDIN:-local/airflow-standin:3.3.2-python3.11}"
POSTGRES_IMAGE="${BOLSYNC_POSTGRES_STANDIN:-local/postgres-standin:15}"
REDIS_IMAGE="${BOLSYNC_REDIS_STANDIN:-local/redis-standin:7.0}"
LOCK="${BOLSYNC_LOCK_FILE:-$REPO/requirements.txt}"
CA_BUNDLE="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
LABEL=org.bolsync.recipe-hash

if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi

log() { echo "images: $*" >&2; }

# Temporary folders (rootfs, build contexts) go when the script exits, whatever happens.
TEMPS=()
cleanup() { [ "${#TEMPS[@]}" -eq 0 ] || rm -rf "${TEMPS[@]}"; }
trap cleanup EXIT

# The Debian mirror apt uses on this host (debootstrap and the images' apt-get use it too).
debian_mirror() {
    if [ -n "${BOLSYNC_DEBIAN_MIRROR:-}" ]; then echo "$BOLSYNC_DEBIAN_MIRROR"; return; fi
    local uri
    uri="$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)"
    [ -n "$uri" ] || uri="$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1 || true)"
    echo "${uri:-http://deb.debian.org/debian}"
}

current_hash() { "$DOCKER" image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true; }
image_id() { "$DOCKER" image inspect -f '{{ .Id }}' "$1"; }

# sha256 over the files of a folder (names and contents) plus extra words.
recipe_hash() {
    local dir="$1"; shift
    {
        (cd "$dir" && find . -type f | LC_ALL=C sort | while read -r f; do echo "$f"; cat "$f"; done)
        printf '%s\n' "$@"
    } | sha256sum | cut -d' ' -f1
}

build_debian() {
    command -v debootstrap >/dev/null || { log "debootstrap missing: run tests/compose/docker_engine.sh first"; exit 1; }
    local mirror hash
    mirror="$(debian_mirror)"
    hash="$(printf 'debootstrap --variant=minbase bookworm %s v1\n' "$mirror" | sha256sum | cut -d' ' -f1)"
    if [ "$(current_hash "$DEBIAN_IMAGE")" = "$hash" ]; then
        log "$DEBIAN_IMAGE: up to date (cached)"
        return
    fi
    local rootfs
    rootfs="$(mktemp -d /var/tmp/bolsync-rootfs.XXXXXX)"
    TEMPS+=("$rootfs")
    log "$DEBIAN_IMAGE: debootstrap --variant=minbase bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
        tail -n 30 "$rootfs.log" >&2
        exit 1
    }
    rm -f "$rootfs.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | "$DOCKER" import \
        --change "LABEL $LABEL=$hash" --change 'CMD ["/bin/bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        - "$DEBIAN_IMAGE" >/dev/null
    log "$DEBIAN_IMAGE: imported"
}

# The lock as a pip constraints file: `name==version [; marker]` lines only (no hashes, no extras, which
# constraints may not carry), one per pin.
constraints_from_lock() {
    python3 - "$1" <<'PY'
import re
import sys

seen = set()
for line in open(sys.argv[1]).read().replace("\\\n", " ").splitlines():
    line = re.sub(r"\s--hash=\S+", "", line.split("#", 1)[0]).strip()
    if not line or line.startswith("-"):
        continue
    line = re.sub(r"^([A-Za-z0-9_.-]+)\[[^\]]*\]", r"\1", line)
    if line not in seen:
        seen.add(line)
        print(line)
PY
}

# build_standin TAG RECIPE_DIR [extra hash words...]
build_standin() {
    local tag="$1" dir="$2"; shift 2
    local hash
    hash="$(recipe_hash "$dir" "base=$(image_id "$DEBIAN_IMAGE")" "$@")"
    if [ "$(current_hash "$tag")" = "$hash" ]; then
        log "$tag: up to date (cached)"
        return
    fi
    local ctx
    ctx="$(mktemp -d /var/tmp/bolsync-ctx.XXXXXX)"
    TEMPS+=("$ctx")
    cp -a "$dir/." "$ctx/"
    cp "$CA_BUNDLE" "$ctx/ca-bundle.crt"
    [ "$(basename "$dir")" != airflow ] || constraints_from_lock "$LOCK" >"$ctx/constraints.txt"
    log "$tag: building (log $ctx.log)"
    local start=$SECONDS
    if ! "$DOCKER" build --network host --pull=false --force-rm --label "$LABEL=$hash" \
        --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" -t "$tag" "$ctx" >"$ctx.log" 2>&1; then
        tail -n 40 "$ctx.log" >&2
        log "$tag: build FAILED (full log $ctx.log)"
        exit 1
    fi
    rm -f "$ctx.log"
    log "$tag: built in $((SECONDS - start)) s"
}

build_debian
build_standin "$AIRFLOW_IMAGE" "$HERE/standins/airflow" "lock=$(sha256sum "$LOCK" | cut -d' ' -f1)"
build_standin "$POSTGRES_IMAGE" "$HERE/standins/postgres"
build_standin "$REDIS_IMAGE" "$HERE/standins/redis"
echo "AIRFLOW_BASE_IMAGE=$AIRFLOW_IMAGE"
echo "POSTGRES_IMAGE=$POSTGRES_IMAGE"
echo "REDIS_IMAGE=$REDIS_IMAGE"
