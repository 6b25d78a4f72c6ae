"""AWS Lambda's REST-JSON API on the shared endpoint (decision 0286)."""
