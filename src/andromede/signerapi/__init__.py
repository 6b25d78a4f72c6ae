"""AWS Signer's REST-JSON API: signing profiles and jobs for Lambda code (decision 0386)."""
