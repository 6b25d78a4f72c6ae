"""Amazon Route 53's REST-XML API on the shared endpoint (decision 0280)."""
