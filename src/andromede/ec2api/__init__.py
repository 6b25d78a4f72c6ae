"""EC2's Query API on the shared endpoint, over the compute service."""
