"""Amazon Data Firehose: Direct PUT delivery streams into S3 (decision 0223)."""
