"""AWS Signer: signing profiles and jobs for Lambda code (decision 0386)."""
