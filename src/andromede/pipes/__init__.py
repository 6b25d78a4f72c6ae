"""Amazon EventBridge Pipes (decision 0258): pipes from an SQS queue to a target, read and
written as the pipe's role."""
