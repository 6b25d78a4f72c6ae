"""Systems Manager Parameter Store's AWS JSON protocol (decision 0229)."""
