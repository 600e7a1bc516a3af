"""The members of this workshop's guilds, as signers of outputs: who each guild's log admits now, by key.

Folded from the guild logs, a layer above credentials, which take them to name who signed a file.
"""

from __future__ import annotations

from apprentice.guild.log import GuildLog, guild_ids
from apprentice.provenance.credentials import Signer
from apprentice.store.workshop import Workshop


def guild_signers(workshop: Workshop) -> dict[str, Signer]:
    """Every admitted member of every guild this workshop belongs to, by their current key."""
    names: dict[str, str] = {}
    guilds: dict[str, list[tuple[str, str]]] = {}
    for guild in guild_ids(workshop):
        state = GuildLog(workshop, guild).state
        for person in state.members():
            key = state.current[person]
            names.setdefault(key, state.names.get(person, key[:12]))
            guilds.setdefault(key, []).append((state.name, guild))
    return {
        key: Signer(key, names[key], "guild", tuple(n for n, _ in guilds[key]), tuple(g for _, g in guilds[key]))
        for key in names
    }
