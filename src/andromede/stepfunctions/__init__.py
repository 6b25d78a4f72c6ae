"""AWS Step Functions (decision 0271): state machines written in the Amazon States Language,
validated as AWS validates them, kept sealed under their account's keys."""
