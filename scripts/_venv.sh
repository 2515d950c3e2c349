# Sourced by scripts/*: find Python 3.11+, make or reuse .venv, install the project.
# Usage: . scripts/_venv.sh [extras]   (extras e.g. "test")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

_find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

_ensure_venv() {
    local extras="${1:-}" python stamp spec
    if [ ! -x .venv/bin/python ]; then
        python="$(_find_python)" || {
            echo "error: krisdispatch needs Python 3.11 or newer on PATH (or set PYTHON=/path/to/python3.11)" >&2
            exit 1
        }
        echo "==> creating .venv with $python" >&2
        "$python" -m venv .venv || {
            echo "error: '$python -m venv' failed; on Debian/Ubuntu install the python3-venv package" >&2
            exit 1
        }
    fi
    spec="."
    [ -n "$extras" ] && spec=".[$extras]"
    # Reinstall only when the project definition changed since the last install.
    stamp=".venv/.installed-${extras:-base}"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        echo "==> installing krisdispatch${extras:+ with [$extras]} into .venv" >&2
        .venv/bin/python -m pip install --quiet --upgrade pip >&2 || true
        .venv/bin/python -m pip install --quiet -e "$spec" >&2 || {
            echo "error: installing the project into .venv failed (see above)" >&2
            exit 1
        }
        touch "$stamp"
    fi
}
