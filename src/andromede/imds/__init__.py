"""The instance metadata service: what a guest learns about itself at 169.254.169.254 (IMDSv2)."""
