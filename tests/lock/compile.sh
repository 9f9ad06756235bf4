#!/usr/bin/env bash
# Regenerates requirements.txt from requirements.in: one lock for Python 3.11-3.13 on any platform
# (environment markers where they differ) with sha256 hashes of every file the index serves.
# Pins already in requirements.txt are kept wherever they still resolve (uv reads the output file as
# preferences); pass `--upgrade-package NAME` to move one pin, `--upgrade` to move all.
#   tests/lock/compile.sh            rewrite requirements.txt
#   tests/lock/compile.sh --check    exit 1 if requirements.txt is not what requirements.in resolves to
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
UV="${UV:-.venv/bin/uv}"
check=0
if [ "${1:-}" = "--check" ]; then
    check=1
    shift
fi

body=$(mktemp)
trap 'rm -f "$body" "$body.new" "$body.both"' EXIT
cp requirements.txt "$body"
"$UV" pip compile requirements.in --universal --generate-hashes --python-version 3.11 --no-strip-extras \
    --no-header --quiet -o "$body" "$@"

# pip before 23.3 (what Python 3.11.7 and 3.12.1 ship) accepts `name[extra]==v` under --require-hashes
# only when `name==v` is there too, and the other way round: write each block with extras both ways.
awk '
function flush() {
    if (block != "" && head ~ /^[A-Za-z0-9._-]+\[/) { plain = block; sub(/\[[^]]*\]/, "", plain); printf "%s", plain }
    printf "%s", block
    block = ""
}
/^[A-Za-z0-9]/ { flush(); head = $0 }
{ block = block $0 "\n" }
END { flush() }
' "$body" > "$body.both"
mv "$body.both" "$body"

{
    cat <<'HEADER'
# bolsync lock file: the complete, pinned dependency set (runtime + dev/test) of requirements.in for
# Python 3.11, 3.12 and 3.13 on any platform, one file for all (environment markers where they differ),
# with the sha256 hash of every file the package index serves. It stands in for Airflow's upstream
# constraints files, which cannot be downloaded here.
#
# Made by tests/lock/compile.sh (uv is in requirements.in's dev section), which runs
#     uv pip compile requirements.in --universal --generate-hashes --python-version 3.11 \
#         --no-strip-extras --no-header -o requirements.txt
# then writes each `name[extra]==v` block also as `name==v` (pip before 23.3 needs both under
# --require-hashes) and adds this header. Pins already here are kept wherever they still resolve;
# `tests/lock/compile.sh --upgrade-package NAME` moves one; `tests/lock/compile.sh --check` fails
# when this file is not what requirements.in resolves to.
#
# Install in two steps (pip refuses editables under --require-hashes; the four editable distributions
# of this repository are not in the lock, their dependencies are; setuptools and wheel are locked too):
#     python -m pip install --require-hashes -r requirements.txt
#     python -m pip install --no-deps --no-build-isolation -e plugins -e . -e include/emulator -e include/demo
HEADER
    cat "$body"
} > "$body.new"

if [ "$check" -eq 1 ]; then
    if ! diff -u requirements.txt "$body.new"; then
        echo "requirements.txt is stale: run tests/lock/compile.sh" >&2
        exit 1
    fi
    echo "requirements.txt is up to date"
else
    mv "$body.new" requirements.txt
fi
