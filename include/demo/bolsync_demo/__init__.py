"""The bolsync demo (``make run`` / ``make up``): a development tool, not part of the product."""
