"""Every member's side of a release: fetch the released apprentice from its trainer's node, check it against the
release record (hashes, id, works), and install it under the guild's task name so `apprentice apply` can use it.
"""

from __future__ import annotations

import hashlib
import json
import logging

from apprentice.errors import BadInput, Unreachable
from apprentice.files import write_atomically
from apprentice.guild.copies import store_work
from apprentice.guild.log import GuildLog
from apprentice.guild.network import SOCKETS, Network
from apprentice.guild.peers import Peer, member_keys
from apprentice.guild.schemas import released_manifest
from apprentice.guild.training import ensure_task, local_task
from apprentice.provenance.manifest import MANIFEST, WEIGHTS, find, name_in_catalog
from apprentice.store.apprentices import has_apprentice

log = logging.getLogger("apprentice.guild")


def fetch_releases(guild_log: GuildLog, network: Network = SOCKETS) -> list[str]:
    """Fetch every released apprentice this node lacks from its trainer's node, check it, and add it to this
    workshop under the guild's task name so `apprentice apply` can use it. The ids fetched."""
    state, shop, fetched = guild_log.state, guild_log.workshop, []
    for release in state.releases.values():
        if has_apprentice(shop.catalog, release["apprentice"]):
            continue
        author = release["author"]
        peer = Peer(shop, guild_log.id, state.addresses.get(author, ""), network, keys=member_keys(state, author))
        base = f"/guild/{guild_log.id}/apprentices/{release['apprentice']}"
        try:
            manifest_bytes = peer.blob(f"{base}/{MANIFEST}", release["manifest_sha256"])
            weights = peer.blob(f"{base}/{WEIGHTS}", release["weights_sha256"])
        except Unreachable:
            continue  # its trainer's node is off: the next sync tries again
        except BadInput as error:  # bytes that do not hash to the record: never installed
            log.warning("%s: refused release %s: %s", guild_log.label(), release["apprentice"], error)
            continue
        finally:
            peer.close()
        try:
            install(guild_log, release, manifest_bytes, weights)
        except BadInput as error:  # a release that does not match its own record is refused, and said so
            log.warning("%s: refused release %s: %s", guild_log.label(), release["apprentice"], error)
            continue
        fetched.append(release["apprentice"])
    return fetched


def install(guild_log: GuildLog, release: dict, manifest_bytes: bytes, weights: bytes) -> None:
    """Check a fetched release against its record and install it; BadInput (nothing written) when it does not match."""
    state, shop = guild_log.state, guild_log.workshop
    facts = released_manifest(manifest_bytes)
    works = {part.work for example in facts.examples for part in example.parts.values()} if facts else set()
    same = facts is not None and facts.id == release["apprentice"] and facts.weights.sha256 == release["weights_sha256"]
    owners = [(part.work, part.owner) for example in facts.examples for part in example.parts.values()] if facts else []
    honest = all(state.owners.get(work) == state.person.get(owner, owner) for work, owner in owners)
    if not same or works != set(release["works"]) or not honest:  # nor may it name others as a work's owner
        raise BadInput(f"The manifest of apprentice {release['apprentice']} does not match its release record.")
    name = local_task(state, release["task"])
    ensure_task(shop, name, facts.kind, facts.task_config | {"guild": guild_log.id})
    folder = shop.apprentice_folder(release["apprentice"])
    write_atomically(folder / WEIGHTS, weights)
    write_atomically(folder / MANIFEST, manifest_bytes)
    manifest = json.loads(manifest_bytes)
    with shop.catalog.write() as db:
        for example in facts.examples:
            for part in example.parts.values():
                store_work(db, state, part.work, part.owner, part.work[:12], shop.member, guild_log.id)
        name_in_catalog(db, manifest, hashlib.sha256(manifest_bytes).hexdigest(), name)
    find(shop, name, release["apprentice"])  # readable as any apprentice of the workshop
