"""Bucket event notifications (decision 0132): tenants' SNS-style topics and the pushing of
the events the object store queues for them to their HTTP endpoints."""
