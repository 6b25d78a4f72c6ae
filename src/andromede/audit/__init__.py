"""Audit: the record of every action. A plain append-only table now; the transparency log later."""
