"""Data access: one module per store, built on PynamoDB. No business rule lives here."""
