"""Compute: virtual machines (images, instance types, key pairs, instances, volumes, security
groups) and the port to the hypervisor that runs them."""
