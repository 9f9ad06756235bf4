#!/usr/bin/env bash
# The stand-in image's entrypoint, behaving like apache/airflow's for the commands compose files use:
#   bash ... / python ...   run as given
#   airflow SUB ...         airflow SUB ...
#   SUB ...                 airflow SUB ... (e.g. `command: scheduler`, `command: celery worker`)
# With CONNECTION_CHECK_MAX_COUNT > 0 (default 20) an Airflow command first waits for the metadata DB
# (`airflow db check`, CONNECTION_CHECK_SLEEP_TIME s apart), as the official entrypoint does.
set -euo pipefail

if [[ $# -eq 0 ]]; then
    exec airflow --help
fi

case "$1" in
    bash)
        shift
        exec /bin/bash "$@"
        ;;
    python)
        shift
        exec python "$@"
        ;;
    airflow)
        shift
        ;;
esac

sub="${1:-}"
if [[ "${CONNECTION_CHECK_MAX_COUNT:-20}" -gt 0 && "$sub" != "version" && "$sub" != "--help" ]]; then
    for ((try = 1; ; try++)); do
        if airflow db check >/dev/null 2>&1; then
            break
        fi
        if ((try >= ${CONNECTION_CHECK_MAX_COUNT:-20})); then
            echo "entrypoint: the metadata database did not answer after ${try} tries" >&2
            airflow db check
            exit 1
        fi
        sleep "${CONNECTION_CHECK_SLEEP_TIME:-3}"
    done
fi
exec airflow "$@"
