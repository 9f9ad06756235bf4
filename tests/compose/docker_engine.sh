#!/usr/bin/env bash
# A Docker engine of our own on a machine without one (and without a registry), idempotent.
#
#   bash tests/compose/docker_engine.sh            # install if missing, start if not running
#   export DOCKER_HOST=$(bash tests/compose/docker_engine.sh --print-host)   # only print, start nothing
#   bash tests/compose/docker_engine.sh --stop     # stop the daemon this script started
#
# Installs docker.io, docker-compose (1.29.2: no BuildKit) and debootstrap from Debian's packages when one
# of them is missing (`apt-get update` first), then starts `dockerd` in the background with its own
# data-root, exec-root, pidfile and socket under $BOLSYNC_DOCKER_ROOT (default /var/lib/bolsync-docker),
# without iptables or a default bridge (user-defined networks still work). It exports nothing: the last
# line it prints is the DOCKER_HOST to use (unix://$BOLSYNC_DOCKER_ROOT/docker.sock). A daemon that
# already answers on that socket is left alone and the script returns at once.
set -euo pipefail

ROOT="${BOLSYNC_DOCKER_ROOT:-/var/lib/bolsync-docker}"
SOCK="$ROOT/docker.sock"
PIDFILE="$ROOT/dockerd.pid"
LOG="$ROOT/dockerd.log"
HOST="unix://$SOCK"

log() { echo "docker_engine: $*" >&2; }

# Debian's 20.10 client matches the daemon; any client negotiates the API version down.
client_bin() { if [ -x /usr/bin/docker ]; then echo /usr/bin/docker; else command -v docker || echo docker; fi; }

answers() { [ -S "$SOCK" ] && DOCKER_HOST="$HOST" timeout 10 "$(client_bin)" version >/dev/null 2>&1; }

case "${1:-}" in
    --print-host)
        echo "$HOST"
        exit 0
        ;;
    --stop)
        if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            pid="$(cat "$PIDFILE")"
            log "stopping dockerd (pid $pid)"
            kill -TERM "$pid"
            for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        else
            log "no dockerd of ours is running"
        fi
        exit 0
        ;;
    "") ;;
    *)
        echo "usage: $0 [--print-host|--stop]" >&2
        exit 2
        ;;
esac

if answers; then
    log "dockerd already answers on $SOCK"
    echo "$HOST"
    exit 0
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
[ -x /usr/bin/docker-compose ] || command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends docker.io docker-compose debootstrap >&2
fi

mkdir -p "$ROOT/data" "$ROOT/exec"
if [ -f "$PIDFILE" ]; then
    old="$(cat "$PIDFILE")"
    if kill -0 "$old" 2>/dev/null; then
        log "dockerd pid $old exists but does not answer yet; waiting for it"
    else
        rm -f "$PIDFILE" "$SOCK"
    fi
fi

if ! [ -f "$PIDFILE" ]; then
    log "starting dockerd (data-root $ROOT/data, log $LOG)"
    # setsid: the daemon outlives this shell and the job control of whoever called us.
    setsid dockerd \
        --storage-driver overlay2 \
        --iptables=false --ip-masq=false --bridge=none \
        --data-root "$ROOT/data" --exec-root "$ROOT/exec" \
        --pidfile "$PIDFILE" -H "$HOST" \
        >>"$LOG" 2>&1 </dev/null &
fi

for _ in $(seq 1 120); do
    if answers; then
        log "dockerd ready on $SOCK"
        echo "$HOST"
        exit 0
    fi
    sleep 0.5
done
log "dockerd did not answer on $SOCK within 60 s; last lines of $LOG:"
tail -n 30 "$LOG" >&2 || true
exit 1
