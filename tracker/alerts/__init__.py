"""Alerts: subscriptions (apprise URLs plus filters), the delivery outbox, messages, sending.

An event's deliveries are written in the transaction that writes the event (`outbox`);
`deliver` later claims due deliveries, renders `messages`, and sends them through apprise
(`targets`), recording every attempt and retrying failures with backoff.
"""
