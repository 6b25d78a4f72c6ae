"""CloudWatch's wire API (metrics) on the shared endpoint: three protocols (decision 0172)."""
