"""Audit: the record of every action, kept in transparency logs (one Merkle tree per tenant
and the platform's) whose signed checkpoints and proofs anyone can verify (decision 0105)."""
