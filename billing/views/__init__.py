"""The billing pages, one module per page group; ``billing.urls`` imports the modules."""
