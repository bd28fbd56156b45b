"""Promotion codes: rules (pure) and their DynamoDB adapter."""
