"""Amazon Kinesis Data Streams' JSON 1.1 API (decision 0228)."""
