#!/usr/bin/env bash
# Make Debian's librados and librbd bindings (python3-rados, python3-rbd) importable from the
# project's virtualenv.
#
#   scripts/venv-link-rados.sh [VENV]      (default: .venv)
#
# The binding is a single compiled module, /usr/lib/python3/dist-packages/rados.cpython-*.so,
# built by Debian against librados2 and not published on PyPI. A symlink to it in the venv's
# site-packages makes `import rados` work without --system-site-packages, which would expose
# every Debian Python package to the project (docs/decisions/0008-librados-in-venv.md).
# Idempotent; exits 0 with a notice when python3-rados is not installed (the Ceph tests then
# skip, or fail under ANDROMEDE_TEST_REQUIRE_ALL=1).
set -euo pipefail
venv=${1:-.venv}
python=$venv/bin/python
[ -x "$python" ] || { echo "venv-link-rados: no virtualenv at $venv" >&2; exit 1; }

read -r suffix site < <("$python" -c \
  'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"), sysconfig.get_paths()["purelib"])')
module=/usr/lib/python3/dist-packages/rados$suffix
if [ ! -e "$module" ]; then
  found=$(ls /usr/lib/python3/dist-packages/rados.cpython-*.so 2>/dev/null || true)
  if [ -n "$found" ]; then
    # Debian builds for its own python3 only; a venv of another minor version cannot load it.
    echo "venv-link-rados: $found does not match the venv's Python ($suffix)" >&2
    exit 1
  fi
  echo "venv-link-rados: python3-rados not installed; the Ceph backend is unavailable" >&2
  exit 0
fi
ln -sfn "$module" "$site/rados$suffix"
"$python" -c 'import rados' || { echo "venv-link-rados: import rados fails in $venv" >&2; exit 1; }
echo "venv-link-rados: $site/rados$suffix -> $module"
# librbd's binding (python3-rbd), the same way: the hypervisor's RBD volumes manage images with
# it (docs/decisions/0018-rbd-volumes.md). It imports rados, linked above.
rbd_module=/usr/lib/python3/dist-packages/rbd$suffix
if [ -e "$rbd_module" ]; then
  ln -sfn "$rbd_module" "$site/rbd$suffix"
  "$python" -c 'import rbd' || { echo "venv-link-rados: import rbd fails in $venv" >&2; exit 1; }
  echo "venv-link-rados: $site/rbd$suffix -> $rbd_module"
else
  echo "venv-link-rados: python3-rbd not installed; RBD volumes are unavailable" >&2
fi
