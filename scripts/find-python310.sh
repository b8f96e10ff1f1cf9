#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter (Rasa Open Source 3.6 needs 3.8-3.10),
# looking where users have one: $PYTHON310, pyenv, uv, then the system.
set -u
is310() { [ -x "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }

if [ -n "${PYTHON310:-}" ] && is310 "$PYTHON310"; then echo "$PYTHON310"; exit 0; fi
if command -v pyenv >/dev/null 2>&1; then
  root="$(pyenv root)"
  for candidate in $(ls -d "$root"/versions/3.10.* 2>/dev/null | sort -rV); do
    if is310 "$candidate/bin/python"; then echo "$candidate/bin/python"; exit 0; fi
  done
fi
if command -v uv >/dev/null 2>&1; then
  candidate="$(uv python find 3.10 2>/dev/null || true)"
  if [ -n "$candidate" ] && is310 "$candidate"; then echo "$candidate"; exit 0; fi
fi
for candidate in "$(command -v python3.10 2>/dev/null)" /usr/bin/python3.10 /usr/local/bin/python3.10; do
  if [ -n "$candidate" ] && is310 "$candidate"; then echo "$candidate"; exit 0; fi
done
cat >&2 <<'MSG'
Python 3.10 was not found, and Rasa Open Source 3.6 cannot run on a newer Python.
Install it with one of:
  pyenv install 3.10          (https://github.com/pyenv/pyenv)
  uv python install 3.10      (https://docs.astral.sh/uv/)
  sudo apt-get install python3.10 python3.10-venv   (Debian/Ubuntu releases that ship it)
or point PYTHON310 at an interpreter:  make run PYTHON310=/path/to/python3.10
MSG
exit 1
