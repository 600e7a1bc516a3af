"""Guilds: member identities now; the signed shared log, sync and votes later."""
