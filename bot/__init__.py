"""Zalo sales-care bot: webhook events in, rules and commands, Zalo API messages out."""
