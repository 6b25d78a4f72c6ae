"""CloudWatch Logs (decision 0186): log groups, their streams and their sealed events."""
