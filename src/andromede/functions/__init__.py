"""AWS Lambda's functions (decision 0286): their model, stores and service."""
