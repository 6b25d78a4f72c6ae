"""S3 handlers, one module per resource family; each handler is named after its operation."""
