"""AWS Secrets Manager's JSON protocol on the shared endpoint (decision 0190)."""
