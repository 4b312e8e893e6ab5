"""Every write of the orders app, one module per sub-domain: import the module you need
(``from orders.services import drafts``); nothing is re-exported here."""
