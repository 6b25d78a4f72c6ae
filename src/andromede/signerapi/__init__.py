"""AWS Signer's REST-JSON API over the signer context: signing profiles and jobs for Lambda code (decision 0386)."""
