"""Amazon DynamoDB (decision 0237): tables, items, expressions, queries."""
