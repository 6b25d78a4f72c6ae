"""Amazon Data Firehose: delivery streams into S3, fed by Direct PUT (decision 0223) or by a
Kinesis data stream (decision 0235)."""
