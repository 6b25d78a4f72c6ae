"""AWS Step Functions' JSON 1.0 API on the shared endpoint (decision 0271)."""
