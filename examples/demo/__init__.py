"""``python -m examples.demo`` (``make demo``): the whole system on one machine, no AWS account, no network."""
