"""AWS Certificate Manager: imported certificates and their sealed keys (decision 0230)."""
