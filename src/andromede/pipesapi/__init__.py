"""Amazon EventBridge Pipes' restJson1 API on the shared endpoint (decision 0258)."""
