"""Approval policies, limits, budgets and requests arrive with the approvals issue."""
