"""Amazon Kinesis Data Streams (decision 0228)."""
