#!/usr/bin/env bash
# Entrypoint of the Redis stand-in: `redis-server [config] [options]` as user redis, protected mode off
# unless the arguments set it (the official image is built that way).
set -euo pipefail

if [[ "${1:0:1}" == "-" || "${1##*.}" == "conf" ]]; then
    set -- redis-server "$@"
fi
if [[ "$1" != "redis-server" ]]; then
    exec "$@"
fi
if [[ "$(id -u)" == "0" ]]; then
    chown -R redis:redis /data 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups "${BASH_SOURCE[0]}" "$@"
fi
case " $* " in
    *" --protected-mode "*) ;;
    *) set -- "$@" --protected-mode no ;;
esac
exec "$@"
