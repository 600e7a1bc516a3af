"""The `apprentice guild` verbs: found, invite, join, offer, propose, vote, sync, do the pledged work, show.

Each parses its arguments, calls one function of `apprentice.guild.actions` (or membership/views), and formats.
"""

from __future__ import annotations

import json
import signal
import sys

import click

from apprentice.guild import actions, membership
from apprentice.guild.log import GuildLog, pick_guild
from apprentice.guild.peers import SyncReport
from apprentice.guild.views import guild_view
from apprentice.terminal import emit, json_option, training_bar, workshop

guild_option = click.option(
    "--guild", "guild_ref", help="Which guild (its name or id); needed only if you are in several."
)
DEFAULT_ADDRESS = "https://127.0.0.1:8766"


def https_address(ctx: click.Context, param: click.Parameter, address: str) -> str:
    """The address as given, once it is an https:// one: members' nodes talk only over TLS."""
    if not address.lower().startswith("https://"):
        raise click.BadParameter(
            f"'{address}' is not an https:// address; give the one `apprentice serve` prints (other members reach "
            "your node at https://…)."
        )
    return address


address_option = click.option(
    "--address",
    default=DEFAULT_ADDRESS,
    show_default=True,
    callback=https_address,
    help="Where other members reach your node: the https:// address `apprentice serve` prints.",
)


@click.group()
def guild() -> None:
    """Guilds: pool consented work with other artists and decide together what is trained."""


def sync_line(report: SyncReport) -> str:
    text = f"Synced with {len(report.reached)} node(s): {report.pulled} record(s) in, {report.pushed} out"
    if report.unreachable:
        text += f"; {len(report.unreachable)} did not answer"
    if report.refused:
        text += f"; refused {len(report.refused)}: " + "; ".join(f"{r['record']} ({r['why']})" for r in report.refused)
    return text + "."


@guild.command("create")
@click.argument("name")
@address_option
@click.option(
    "--join",
    type=click.Choice(membership.JOIN_RULES),
    default="invite",
    show_default=True,
    help="invite: a member's invite admits; vote: the members vote on each newcomer.",
)
@click.option("--quorum", type=float, default=0.5, show_default=True, help="Share of members who must vote.")
@click.option(
    "--threshold", type=float, default=0.5, show_default=True, help="Share of yes votes a proposal must pass."
)
@json_option
def create(name: str, address: str, join: str, quorum: float, threshold: float, as_json: bool) -> None:
    """Found guild NAME with you as its first member, and write its charter."""
    made = membership.create(workshop(), name, address, join, quorum, threshold)
    emit(
        {"guild": made.id, "name": name},
        as_json,
        f"Guild '{name}' founded ({made.id[:12]}); invite members with `apprentice guild invite`.",
    )


@guild.command("invite")
@guild_option
def invite(guild_ref: str | None) -> None:
    """Print an invite line to send to a new member."""
    click.echo(actions.invite(workshop(), guild_ref))


@guild.command("join")
@click.argument("invite_line", metavar="INVITE")
@address_option
@json_option
def join(invite_line: str, address: str, as_json: bool) -> None:
    """Join a guild with the INVITE line a member sent you."""
    guild_log, report = membership.join(workshop(), invite_line, address)
    waiting = guild_log.workshop.member in guild_log.state.pending
    text = f"Joined guild '{guild_log.state.name}'" + (", waiting for the members' vote." if waiting else ".")
    emit({"guild": guild_log.id, "waiting": waiting, "sync": report.to_dict()}, as_json, text)


@guild.command("address")
@click.argument("address", callback=https_address)
@guild_option
def announce(address: str, guild_ref: str | None) -> None:
    """Tell the guild your node now answers at ADDRESS."""
    guild_log = actions.announce(workshop(), guild_ref, address)
    click.echo(f"Guild '{guild_log.state.name}' now reaches you at {address}.")


@guild.command("offer")
@click.argument("task")
@guild_option
@json_option
def offer(task: str, guild_ref: str | None, as_json: bool) -> None:
    """Consent to the guild training on your examples of TASK (withdraw any time with `apprentice consent`)."""
    guild_log, record = actions.offer(workshop(), guild_ref, task)
    count = len(record["body"]["examples"])
    emit(record, as_json, f"Offered {count} example(s) of '{task}' to guild '{guild_log.state.name}'.")


@guild.command("propose")
@click.argument("task")
@click.option(
    "--from", "contributors", multiple=True, help="A member whose offered examples to use (repeat; default: all)."
)
@click.option("--compute", help="The member whose machine trains it, or hosts a federated run (default: you).")
@click.option("--minutes", type=float, default=5.0, show_default=True, help="Training time pledged.")
@click.option("--federated", is_flag=True, help="Train where the pictures are: only weight updates travel.")
@click.option("--rounds", type=click.IntRange(1, 1000), default=5, show_default=True, help="Rounds of a federated run.")
@guild_option
@json_option
def propose(
    task: str,
    contributors: tuple[str, ...],
    compute: str | None,
    minutes: float,
    federated: bool,
    rounds: int,
    guild_ref: str | None,
    as_json: bool,
) -> None:
    """Propose training a shared apprentice for TASK from the members' offered examples."""
    shop, chosen = workshop(), list(contributors)
    record, proposal, outcome = actions.propose(
        shop, guild_ref, task, chosen, compute, minutes, rounds=rounds if federated else None
    )
    short = proposal.hash[:12]
    text = f"Proposal {short} is {outcome}; members vote with `apprentice guild vote {short} yes` (or no)."
    emit(record, as_json, text)


@guild.command("vote")
@click.argument("proposal")
@click.argument("choice", type=click.Choice(["yes", "no"]))
@guild_option
def vote(proposal: str, choice: str, guild_ref: str | None) -> None:
    """Vote yes or no on PROPOSAL (its id, or the first 6+ characters of it)."""
    target, outcome = actions.vote(workshop(), guild_ref, proposal, choice)
    click.echo(f"Voted {choice} on {target.hash[:12]}: it is {outcome}.")


@guild.command("sync")
@guild_option
@json_option
def sync_command(guild_ref: str | None, as_json: bool) -> None:
    """Exchange the guild's log with every member's node that answers, and fetch new shared apprentices."""
    shop = workshop()
    done = actions.catch_up(shop, pick_guild(shop, guild_ref))
    text = sync_line(done.report) + (f" Fetched {len(done.fetched)} shared apprentice(s)." if done.fetched else "")
    emit(done.to_dict(), as_json, text)


@guild.command("work")
@click.option(
    "--flower-port",
    type=click.IntRange(1, 65535),
    default=9092,
    show_default=True,
    help="Where you host federated runs.",
)
@guild_option
@json_option
def work(flower_port: int, guild_ref: str | None, as_json: bool) -> None:
    """Train every passed proposal that pledged your machine or names you in a federated run, and release."""
    shop, rounds = workshop(), []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the Flower processes it started stop too

    def show_round(line: str) -> None:
        if line.startswith("apprentice-round "):
            rounds.append(line)
            click.echo(round_line(line[len("apprentice-round ") :]), err=as_json)

    with training_bar(as_json) as report:
        released = actions.train_pledged(shop, guild_ref, report)
    released += actions.take_part(shop, guild_ref, show_round, flower_port)
    text = "\n".join(f"Released apprentice {r['body']['apprentice']} for '{r['body']['task']}'." for r in released)
    done = "Your node's federated rounds are done." if rounds else "No passed proposal waits for your machine."
    emit(released, as_json, text or done)


def round_line(event: str) -> str:
    """One federated round's progress, in words."""
    facts = json.loads(event)
    if "held_out" in facts:
        scores = facts["held_out"]
        baseline = f"copying the before: {scores['identity_psnr']:.2f}"
        return f"Round {facts['round']}: held-out PSNR {scores['psnr']:.2f} dB ({baseline})"
    if facts.get("left"):
        return f"Round {facts['round']}: nothing of yours may train it any more, so your node sat it out."
    loss = f", loss {facts['loss']:.4f}" if facts.get("loss") is not None else ""
    who = f"{facts['members']} member(s)" if "members" in facts else f"{facts.get('examples', 0)} example(s)"
    return f"Round {facts['round']}: {who} trained{loss}."


@guild.command("rotate-key")
def rotate() -> None:
    """Replace your key (a lost or exposed laptop): the old key certifies the new one in every guild."""
    shop = workshop()
    old, new, told = actions.rotate(shop)
    click.echo(f"Your key is now {new[:12]} (was {old[:12]}, kept retired in {shop.root}); {told} guild(s) told.")


@guild.command("show")
@guild_option
@json_option
def show(guild_ref: str | None, as_json: bool) -> None:
    """The guild: its members, proposals and their votes, releases and who contributed to them."""
    shop = workshop()
    view = guild_view(GuildLog(shop, pick_guild(shop, guild_ref)))
    lines = [f"Guild '{view['name']}' ({view['id'][:12]}), joining by {view['charter']['join']}."]
    lines += ["Members: " + ", ".join(m["name"] + (" (forked chain!)" if m["forked"] else "") for m in view["members"])]
    if view["waiting"]:
        lines.append("Waiting for the members' vote: " + ", ".join(w["name"] for w in view["waiting"]))
    for p in view["proposals"]:
        what = "admit a newcomer"
        if p["kind"] == "train":
            where = f"{p['compute']['member']}'s machine"
            if p["training"] == "federated":
                where = f"each contributor's machine, {p['rounds']} round(s) hosted by {p['compute']['member']}"
            what = f"train '{p['task']}' on {where}"
        votes = ", ".join(f"{name} {vote}" for name, vote in p["votes"].items()) or "no votes yet"
        lines.append(f"Proposal {p['id'][:12]}: {what}: {p['outcome']} ({votes})")
    for r in view["releases"]:
        shares = ", ".join(f"{c['name']} {c['share']:.0%}" for c in r["contributors"])
        taint = f"; tainted by withdrawn work {', '.join(w[:12] for w in r['tainted_by'])}" if r["tainted_by"] else ""
        lines.append(f"Release {r['apprentice']} of '{r['task']}' by {r['trained_by']}: {shares}{taint}")
        if r["training"] == "federated":
            rounds = "; ".join(f"{who} rounds {', '.join(map(str, taken))}" for who, taken in r["took_part"].items())
            refused = f"; refused: {', '.join(r['refused'])}" if r["refused"] else ""
            kept = ""
            if r["kept_round"] < r["rounds"]:
                kept = f", releasing round {r['kept_round']}'s aggregate, the best on held-out works"
            lines.append(f"  federated, {r['rounds']} round(s) hosted by {r['host']}{kept}: {rounds}{refused}")
    emit(view, as_json, "\n".join(lines))
