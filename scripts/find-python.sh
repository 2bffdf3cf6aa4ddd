#!/usr/bin/env bash
# Prints the path of the Python that matches the Lambda runtime (python3.12).
# `sam build` insists on that exact version being on PATH, and the tests should
# run on it too. pyenv shims refuse versions that are not active, so we also
# look inside the pyenv versions directory.
set -euo pipefail
want="${LAMBDA_PYTHON:-3.12}"
candidates=("python$want")
root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
for dir in "$root"/versions/"$want"*/bin; do candidates+=("$dir/python$want"); done
candidates+=("/usr/local/bin/python$want" "/usr/bin/python$want")
for py in "${candidates[@]}"; do
  if "$py" -c "import sys; sys.exit(0 if sys.version.startswith('$want') else 1)" >/dev/null 2>&1; then
    command -v "$py" 2>/dev/null || echo "$py"
    exit 0
  fi
done
echo "find-python: no Python $want found (tried: ${candidates[*]}); install it, e.g. 'pyenv install $want'" >&2
exit 1
