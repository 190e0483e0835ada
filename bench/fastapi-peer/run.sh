#!/usr/bin/env bash
# Serves the FastAPI peer (app.py) on 127.0.0.1 only, for `cargo xtask bench serve`.
#
#   run.sh           make the venv if needed, then serve; uvicorn replaces this
#                    shell (exec), so the pid that started it is the server's
#   run.sh --setup   only make the venv (the first time, pip downloads ~100 MB)
#
# Environment:
#   PORT      port to listen on (default 8000)
#   WORKERS   uvicorn worker processes (default 1: the machine has 2 cores,
#             and the load generator needs one; see README.md, Benchmarks)
#   VENV      the virtual environment (default target/bench/fastapi-venv)
#   WINE_CSV  the red-wine CSV (default: linfa-datasets' copy in the cargo registry)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
venv=${VENV:-$here/../../target/bench/fastapi-venv}
stamp=$venv/requirements.txt

# The venv is remade whenever requirements.txt changes: a copy of the file it
# was made from sits inside it.
if ! cmp -s "$here/requirements.txt" "$stamp"; then
  if [[ -e $venv && ! -f $venv/pyvenv.cfg ]]; then
    echo "run.sh: $venv exists and is not a venv; set VENV elsewhere" >&2
    exit 2
  fi
  rm -rf "$venv"
  python3 -m venv "$venv" || {
    echo "run.sh: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2
    exit 2
  }
  "$venv/bin/pip" install --disable-pip-version-check -q -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$stamp"
fi
[[ ${1:-} == --setup ]] && exit 0

if [[ -z ${WINE_CSV:-} ]]; then
  registry=${CARGO_HOME:-$HOME/.cargo}/registry/src
  WINE_CSV=$(ls -d "$registry"/*/linfa-datasets-*/data/winequality-red.csv.gz 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -z $WINE_CSV ]]; then
    echo "run.sh: no linfa-datasets in $registry; build the workspace first or set WINE_CSV" >&2
    exit 2
  fi
fi
export WINE_CSV
# Keep the source folder clean: no __pycache__ beside app.py.
export PYTHONDONTWRITEBYTECODE=1

# No access log: the reference logs every request, so this favours the peer.
exec "$venv/bin/uvicorn" app:app --app-dir "$here" \
  --host 127.0.0.1 --port "${PORT:-8000}" --workers "${WORKERS:-1}" \
  --loop uvloop --http httptools --no-access-log --log-level warning
