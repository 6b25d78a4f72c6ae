"""Metering and billing: meters, the price catalogue (EUR, VAT) and usage reports (0108)."""
