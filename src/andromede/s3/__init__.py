"""S3 wire protocol: routing, SigV4, XML, wire errors, handlers."""
