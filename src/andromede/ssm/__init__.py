"""Systems Manager Parameter Store's parameters (decision 0229)."""
