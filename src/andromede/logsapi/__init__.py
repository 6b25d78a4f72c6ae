"""CloudWatch Logs' JSON 1.1 protocol on the shared endpoint (decision 0186)."""
