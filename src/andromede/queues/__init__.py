"""SQS-style message queues of the tenants (decision 0158)."""
