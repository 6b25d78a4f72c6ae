"""Amazon Data Firehose's JSON 1.1 protocol on the shared endpoint (decision 0223)."""
