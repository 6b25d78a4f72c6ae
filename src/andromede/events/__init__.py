"""EventBridge (decision 0192): event buses, rules and their targets, the event pattern
language, PutEvents and the delivery of matched events to SQS queues and SNS topics."""
