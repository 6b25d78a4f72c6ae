"""Hypervisor side of compute: QEMU instances and their networks on one host."""
