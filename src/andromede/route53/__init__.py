"""Amazon Route 53's hosted zones and their record sets (decision 0280)."""
