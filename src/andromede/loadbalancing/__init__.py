"""Elastic Load Balancing's Network Load Balancers (decision 0191): load balancers, target
groups, listeners, targets and their health."""
