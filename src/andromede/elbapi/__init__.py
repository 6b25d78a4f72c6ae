"""Elastic Load Balancing's ``elasticloadbalancing`` Query API, version 2015-12-01, for
Network Load Balancers (decision 0191)."""
