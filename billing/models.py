"""Invoices, bills, payments and exchange rates arrive with the billing issues.

Money helpers that every app already needs live in ``billing.money``.
"""
