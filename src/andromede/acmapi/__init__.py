"""AWS Certificate Manager's JSON 1.1 API on the shared endpoint (decision 0230)."""
