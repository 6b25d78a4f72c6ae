#!/usr/bin/env bash
# `make run`: start `andromede serve` on the embedded default, with real guests where the machine
# can run them.
#
# The `hypervisor` setting defaults to memory (EC2's API without guests): API-only gateways and
# the tests rely on that. On the one machine of `make run`, though, an operator wants instances
# that boot, so this picks qemu wherever qemu-system-x86_64 is installed, memory elsewhere, and
# says which. A choice made in the settings (ANDROMEDE_HYPERVISOR, or a `hypervisor` key in the
# ANDROMEDE_CONFIG file) is kept as it is. With qemu, the agent probes at start whether KVM
# really runs a guest (TCG otherwise) and whether it may build tenant networks (root, ip, nft,
# dnsmasq; QEMU's user-mode networking with port forwards otherwise), and logs both: a non-root
# `make run` boots guests too.
#
# Usage: scripts/make-run.sh VENV_BIN DATA_DIR
set -euo pipefail

bin=$1
data_dir=$2

# The settings' own reading of the environment and the TOML file: the hypervisor they name, or
# "-" when they name none. Nothing at all when they do not load: `serve` then says why.
given=$("$bin/python" - <<'EOF' 2>/dev/null || true
from andromede.settings import load_settings

settings = load_settings()
print(settings.hypervisor if "hypervisor" in settings.model_fields_set else "-")
EOF
)

if [ -z "$given" ]; then
  exec "$bin/andromede" serve --data-dir "$data_dir"
elif [ "$given" != "-" ]; then
  hypervisor=$given
  why="as the settings say"
elif command -v qemu-system-x86_64 >/dev/null 2>&1; then
  hypervisor=qemu
  why="qemu-system-x86_64 is installed: instances are real guests; KVM or TCG, tenant networks or user-mode networking: probed at start, logged"
else
  hypervisor=memory
  why="no qemu-system-x86_64: EC2's API without guests; 'make system-deps' installs QEMU"
fi
echo "make run: hypervisor = $hypervisor ($why)"

export ANDROMEDE_HYPERVISOR=$hypervisor
exec "$bin/andromede" serve --data-dir "$data_dir"
