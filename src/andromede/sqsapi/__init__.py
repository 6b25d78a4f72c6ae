"""The SQS JSON protocol on the shared endpoint (decision 0158)."""
