"""The orders pages, one module per page group; ``orders.urls`` imports the modules."""
