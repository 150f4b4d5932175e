#!/usr/bin/env bash
# Install the peers mapred is measured against into a virtualenv of their own.
#
# The peers are not dependencies of mapred: they live in $MAPRED_BENCH_VENV (default
# /work/bench-venv, or the first argument), and benchmarks/run.py runs them from there
# as subprocesses. A peer that fails to install is reported and skipped; the suite then
# skips that peer with a note. PySpark also needs a Java runtime (17) on PATH.
#
#   bash benchmarks/setup_peers.sh [VENV_DIR]
set -uo pipefail

venv="${1:-${MAPRED_BENCH_VENV:-/work/bench-venv}}"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv" || exit 1
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
"$venv/bin/pip" install -q --upgrade pip setuptools wheel || exit 1

# The single-process and multiprocessing baselines need the regex module and psutil.
for spec in "regex" "psutil" "dask[bag]" "pyspark" "mrjob"; do
    if "$venv/bin/pip" install -q "$spec"; then
        echo "setup_peers: installed $spec"
    else
        echo "setup_peers: could not install $spec; the suite will skip it" >&2
    fi
done
if ! command -v java >/dev/null; then
    echo "setup_peers: no java on PATH: the PySpark peer will be skipped" >&2
fi
"$venv/bin/python" - <<'PY'
import importlib
for name in ("regex", "psutil", "dask.bag", "pyspark", "mrjob"):
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # report, do not fail: missing peers are skipped
        print(f"setup_peers: {name}: unavailable ({exc})")
    else:
        print(f"setup_peers: {name} {getattr(module, '__version__', '')}".rstrip())
PY
