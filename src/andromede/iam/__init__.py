"""Identity: tenants, users, access keys (policies and MFA come with the IAM issue)."""
