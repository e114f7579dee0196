"""The shop's domain: customers, their auth tokens, orders and daily statistics."""
