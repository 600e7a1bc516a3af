"""A guild's state folded from its log alone: members, consent, proposals and their outcomes, releases, taint.

Every node folds the same records to the same state; `verdict` says whether a new record may join the log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from apprentice.guild.records import record_hash, well_formed
from apprentice.identity import signed_by_its_signer
from apprentice.provenance import consent

VOTES = ("yes", "no")
# what decides who is in (with admission proposals): what `members_at` replays
MEMBERSHIP = ("charter", "invite", "join", "rotate", "rotated", "vote")


def electorate(state: State) -> dict:
    """The electorate of a proposal made now: the members, and the view of the log they were read from."""
    return {"electorate": state.members(), "seen": state.cut()}


def works_in(example: dict) -> set[str]:
    """The works an offered example is made of."""
    return {part["work"] for part in example["parts"].values()}


@dataclass(frozen=True)
class Verdict:
    """What to do with an incoming record: 'ok', 'duplicate', 'gap', 'later', 'fork' or 'reject', and why."""

    action: str
    why: str = ""


OK = Verdict("ok")


@dataclass
class Proposal:
    hash: str
    author: str  # the proposer's person id
    body: dict
    at: str
    votes: dict[str, str] = field(default_factory=dict)  # person id → yes/no, the first vote of each counts


@dataclass
class State:
    """The guild as its log says it is."""

    id: str
    charter: dict = field(default_factory=dict)
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)  # key → (seq, hash) of its newest record
    person: dict[str, str] = field(default_factory=dict)  # key → the member's first key (their id for life)
    current: dict[str, str] = field(default_factory=dict)  # person id → their key now
    names: dict[str, str] = field(default_factory=dict)  # person id → name
    addresses: dict[str, str] = field(default_factory=dict)  # person id → where their node answers
    pending: dict[str, str] = field(default_factory=dict)  # key → invite nonce, joined but not yet admitted by vote
    issued: dict[str, str] = field(default_factory=dict)  # invite nonce → the key whose record issued it
    invites: dict[str, str] = field(default_factory=dict)  # nonce → who used it
    offers: dict[str, dict] = field(default_factory=dict)  # example fingerprint → {owner, task, name, size, parts}
    owners: dict[str, str] = field(default_factory=dict)  # work → owner person id
    offered_for: dict[str, set[str]] = field(default_factory=dict)  # work → the tasks its owner offered it for
    withdrawn: set[str] = field(default_factory=set)  # works whose owners withdrew them from the guild
    proposals: dict[str, Proposal] = field(default_factory=dict)
    early_votes: dict[str, dict[str, str]] = field(default_factory=dict)  # votes for proposals not yet seen
    releases: dict[str, dict] = field(default_factory=dict)  # release hash → body + author
    rotations: dict[str, str] = field(default_factory=dict)  # old key → the new key it certified
    seen: set[str] = field(default_factory=set)  # hashes of every record folded in
    history: list[dict] = field(default_factory=list)  # the records that decide membership, in the order folded
    log: list[dict] = field(default_factory=list)  # every record folded in, in the order folded
    places: dict[str, tuple[str, int]] = field(default_factory=dict)  # record hash → (author key, seq)
    issued_at: dict[str, tuple[str, int]] = field(default_factory=dict)  # invite nonce → the issuing record's place
    refused: set[str] = field(default_factory=set)  # keys of applicants the members voted not to admit
    forked: set[str] = field(default_factory=set)  # keys proven to have signed two records at one place
    flower: dict[str, dict] = field(default_factory=dict)  # person id → their Flower node (key, link certificate)

    @property
    def name(self) -> str:
        return self.charter.get("name", self.id[:12])

    def members(self) -> list[str]:
        """Person ids of the admitted members, in the order they joined."""
        return list(self.current)

    def is_member(self, key: str) -> bool:
        person = self.person.get(key)
        return person is not None and self.current.get(person) == key

    def may_read(self, key: str) -> bool:
        """Members, and those who joined with an invite and wait for the vote, may read the log (records only)."""
        return self.is_member(key) or (key in self.pending and key not in self.refused)

    def may_receive_work(self, key: str, work: str) -> bool:
        """May `key` be handed a copy of `work`? Only as the pledged trainer of a passed pooled training proposal, not
        yet released, whose contributors include the work's owner and whose task the work was offered for."""
        if not self.is_member(key) or work not in self.owners or work in self.withdrawn:
            return False
        person, owner, tasks = self.person[key], self.owners[work], self.offered_for.get(work, set())
        answered = {release["proposal"] for release in self.releases.values()}
        return any(
            p.body.get("kind") == "train"
            and p.body.get("training", "pooled") == "pooled"  # a federated host never receives pictures
            and p.body["compute"]["member"] == person
            and owner in p.body["contributors"]
            and p.body["task"] in tasks
            and p.hash not in answered
            and self.outcome(p) == "passed"
            for p in self.proposals.values()
        )

    def note_fork(self, key: str) -> None:
        """`key` signed two different records at one place of its chain: from now on its votes and proposals
        decide nothing, on every node that holds the proof."""
        self.forked.add(key)

    def forked_people(self) -> set[str]:
        return {self.person.get(key, key) for key in self.forked}

    # -- deciding ---------------------------------------------------------------------------------------------

    def verdict(self, record: dict) -> Verdict:
        """Whether `record` may be appended now, judged by its signature, its chain and this state."""
        problem = well_formed(record)
        if problem:
            return Verdict("reject", problem)
        digest, author, seq = record_hash(record), record["author"], record["seq"]
        if record["guild"] != self.id and not (record["type"] == "charter" and digest == self.id):
            return Verdict("reject", "it was signed for another guild (a replay)")
        head_seq, head_hash = self.heads.get(author, (0, ""))
        if seq <= head_seq:
            return (
                Verdict("duplicate", "this node holds it already (a replay)")
                if digest in self.seen
                else Verdict(
                    "fork", f"its author signed a different record #{seq} before (two devices, or a restored backup)"
                )
            )
        if seq > head_seq + 1:
            return Verdict("gap", f"records {head_seq + 1}–{seq - 1} of its author are missing")
        if record["prev"] != head_hash:
            return Verdict("fork", "it does not follow its author's previous record (a forked chain)")
        return self.allowed(record)

    def allowed(self, record: dict) -> Verdict:
        kind, body, author = record["type"], record["body"], record["author"]
        if kind == "charter":
            return OK if not self.charter else Verdict("reject", "the guild already has a charter")
        if kind == "join":
            return self.join_allowed(record)
        if kind == "rotated":
            old = body.get("old_key", "")
            if self.is_member(old) and self.pending_rotation(old) == author:
                return OK
            return Verdict("later", "the old key's rotation record has not arrived")
        if author in self.rotations:
            return Verdict("reject", "its author's key was replaced by a newer one")
        if not self.is_member(author):
            if author in self.pending:
                return Verdict("later", "its author waits for the members' vote on their admission")
            return Verdict("reject", "its author is not a member of the guild")
        return self.content_allowed(record, self.person[author])

    def join_allowed(self, record: dict) -> Verdict:
        invite = record["body"].get("invite")
        valid = signed_by_its_signer(invite) and invite.get("guild") == self.id and isinstance(invite.get("nonce"), str)
        if record["seq"] != 1 or not valid:
            return Verdict("reject", "its invite is not a valid invite to this guild")
        if invite["nonce"] in self.invites:
            return Verdict("reject", "its invite was already used (a replay)")
        if self.issued.get(invite["nonce"]) != invite["by"]:  # issued on the log, while its signer was a member
            return Verdict("later", "the record that issued its invite has not arrived")
        return OK

    def content_allowed(self, record: dict, person: str) -> Verdict:
        kind, body = record["type"], record["body"]
        if kind == "vote" and body.get("vote") not in VOTES:
            return Verdict("reject", "its vote is neither yes nor no")
        if kind == "proposal":
            return self.electorate_allowed(record)
        if kind == "withdraw":
            foreign = [w for w in body["works"] if self.owners.get(w) != person]
            return Verdict("reject", "it withdraws works its author never offered to this guild") if foreign else OK
        if kind == "offer":
            works = [part["work"] for example in body.get("examples", []) for part in example["parts"].values()]
            foreign = [w for w in works if self.owners.get(w, person) != person]
            return Verdict("reject", "it offers works another member owns") if foreign else OK
        if kind == "release":
            problem = self.release_allowed(body, person)
            return self.federated_release_allowed(body) if problem == OK else problem
        return OK

    def release_allowed(self, body: dict, person: str) -> Verdict:
        """A release answers a passed training proposal once, from its pledged trainer, with only the works its
        contributors offered for its task, crediting exactly their owners with at most what they offered."""
        proposal = self.proposals.get(body["proposal"])
        if proposal is None or self.outcome(proposal) != "passed":
            return Verdict("later", "the proposal it answers has not passed here yet")
        if proposal.body.get("kind") != "train" or proposal.body["compute"]["member"] != person:
            return Verdict("reject", "its author did not pledge the compute for that proposal")
        if any(release["proposal"] == proposal.hash for release in self.releases.values()):
            return Verdict("reject", "that proposal was answered by a release already")
        task, contributors, works = proposal.body["task"], proposal.body["contributors"], set(body["works"])
        offered = [e for e in self.offers.values() if e["task"] == task and e["owner"] in contributors]
        if not works <= {work for example in offered for work in works_in(example)}:
            return Verdict("reject", "it lists works the proposal's contributors did not offer for its task")
        used = [example for example in offered if works_in(example) <= works]
        shares = {self.person.get(key, key): share for key, share in body["owners"].items()}
        if set(shares) != {example["owner"] for example in used}:
            return Verdict("reject", "it credits others than the owners of the works it lists")
        for owner, share in shares.items():
            theirs = [example for example in used if example["owner"] == owner]
            pixels = sum(example["size"][0] * example["size"][1] for example in theirs)
            if share["examples"] > len(theirs) or share["pixels"] > pixels:
                return Verdict("reject", "its contributors' shares are more than the examples it lists")
        return OK

    def federated_release_allowed(self, body: dict) -> Verdict:
        """A release says how it trained as its proposal said, and credits rounds only to its contributors."""
        proposal = self.proposals[body["proposal"]].body
        training = proposal.get("training", "pooled")
        if body.get("training", "pooled") != training:
            return Verdict("reject", f"it says it trained otherwise than its proposal ({training})")
        if training == "pooled":
            return OK
        if body.get("host") != proposal["compute"]["member"] or body.get("rounds") != proposal["rounds"]:
            return Verdict("reject", "its host or rounds are not its proposal's")
        people = {self.person.get(key, key) for key in body.get("took_part", {})}
        rounds = {r for taken in body.get("took_part", {}).values() for r in taken}
        if not people <= set(proposal["contributors"]) or any(r > proposal["rounds"] for r in rounds):
            return Verdict("reject", "it credits rounds to others than its contributors, or rounds it never ran")
        kept = body.get("kept_round") or proposal["rounds"]
        if kept > proposal["rounds"] or any(r > kept for r in rounds):
            return Verdict("reject", "it releases a round it never ran, or credits rounds after the one it releases")
        return OK

    def electorate_allowed(self, record: dict) -> Verdict:
        """A proposal's electorate must be exactly the members as of the log its proposer had seen (`seen`), and
        that view must be whole: the proposer's own chain, and everything each record in it rests on."""
        cut = record["body"]["seen"]
        if any(self.heads.get(author, (0, ""))[0] < seq for author, seq in cut.items()):
            return Verdict("later", "it was made after records this node has not received yet")
        if cut.get(record["author"], 0) != record["seq"] - 1 or not self.whole(cut):
            return Verdict("reject", "the records its proposer says they had seen leave out records those rest on")
        if sorted(record["body"]["electorate"]) != sorted(self.members_at(cut)):
            return Verdict("reject", "its electorate is not the guild's members when it was proposed")
        return OK

    def whole(self, cut: dict[str, int]) -> bool:
        """Whether every record inside `cut` has what it rests on inside `cut` too: a join its invite, a vote its
        proposal, a proposal what it had seen, a release its proposal, a new key its old key's rotation."""
        inside = lambda place: place is not None and place[1] <= cut.get(place[0], 0)  # noqa: E731
        for record in self.log:
            if record["seq"] > cut.get(record["author"], 0):
                continue
            body, kind = record["body"], record["type"]
            if kind == "join" and not inside(self.issued_at.get(body["invite"]["nonce"])):
                return False
            if kind in ("vote", "release") and not inside(self.places.get(body["proposal"])):
                return False
            if kind == "rotated" and not inside(self.places.get(body["rotate"])):
                return False
            if kind == "proposal" and any(seq > cut.get(author, 0) for author, seq in body["seen"].items()):
                return False
        return True

    def members_at(self, cut: dict[str, int]) -> list[str]:
        """The members as the log stood when each author's chain ended at `cut` (its records up to that seq)."""
        then = State(self.id)
        for record in self.history:
            if record["seq"] <= cut.get(record["author"], 0):
                then.add(record)
        return then.members()

    def cut(self) -> dict[str, int]:
        """This state's view of the log, as a proposal records it."""
        return {author: seq for author, (seq, _) in self.heads.items()}

    def pending_rotation(self, old_key: str) -> str:
        return self.rotations.get(old_key, "")

    # -- folding ----------------------------------------------------------------------------------------------

    def add(self, record: dict) -> None:
        """Fold one accepted record in (each author's records arrive in their chain's order)."""
        author, body, kind = record["author"], record["body"], record["type"]
        self.heads[author] = (record["seq"], record_hash(record))
        self.seen.add(self.heads[author][1])
        self.log.append(record)
        self.places[self.heads[author][1]] = (author, record["seq"])
        if kind in MEMBERSHIP or (kind == "proposal" and body.get("kind") == "admit"):
            self.history.append(record)
        getattr(self, "on_" + kind)(author, body, record)

    def on_charter(self, author: str, body: dict, record: dict) -> None:
        self.charter = body
        self.admit(author, body.get("founder_name", "founder"), body.get("address", ""))

    def admit(self, key: str, name: str, address: str) -> None:
        self.person[key], self.current[key], self.names[key] = key, key, name
        if address:
            self.addresses[key] = address

    def on_join(self, author: str, body: dict, record: dict) -> None:
        nonce = body["invite"]["nonce"]
        self.invites[nonce] = author
        self.names[author], self.addresses[author] = body.get("name", author[:12]), body.get("address", "")
        if self.charter.get("join") == "vote":
            self.pending[author] = nonce
            self.settle_admissions()
        else:
            self.admit(author, self.names[author], self.addresses[author])

    def settle_admissions(self) -> None:
        for key, nonce in list(self.pending.items()):
            admits = [
                p for p in self.proposals.values() if p.body.get("kind") == "admit" and p.body.get("nonce") == nonce
            ]
            if any(self.outcome(p) == "passed" for p in admits):
                del self.pending[key]
                self.admit(key, self.names.get(key, key[:12]), self.addresses.get(key, ""))
            elif admits and all(self.outcome(p) == "rejected" for p in admits):
                self.refused.add(key)  # no longer a reader; their node's address is no longer synced with

    def on_invite(self, author: str, body: dict, record: dict) -> None:
        self.issued[body["nonce"]] = author
        self.issued_at[body["nonce"]] = (author, record["seq"])

    def on_address(self, author: str, body: dict, record: dict) -> None:
        self.addresses[self.person[author]] = str(body.get("address", ""))

    def on_offer(self, author: str, body: dict, record: dict) -> None:
        owner = self.person[author]
        for example in body.get("examples", []):
            self.offers[example["fingerprint"]] = example | {"owner": owner, "task": body.get("task", "")}
            for part in example["parts"].values():
                self.owners[part["work"]] = owner
                self.offered_for.setdefault(part["work"], set()).add(body["task"])
                self.withdrawn.discard(part["work"])  # offered again after a withdrawal: consent given anew

    def on_withdraw(self, author: str, body: dict, record: dict) -> None:
        self.withdrawn.update(body.get("works", []))

    def on_proposal(self, author: str, body: dict, record: dict) -> None:
        digest = record_hash(record)
        proposal = Proposal(digest, self.person[author], body, record["at"], self.early_votes.pop(digest, {}))
        self.proposals[digest] = proposal
        if body.get("kind") == "admit":
            self.issued[body["nonce"]] = author
            self.issued_at[body["nonce"]] = (author, record["seq"])
        self.settle_admissions()

    def on_vote(self, author: str, body: dict, record: dict) -> None:
        person, target = self.person[author], body["proposal"]
        votes = self.proposals[target].votes if target in self.proposals else self.early_votes.setdefault(target, {})
        votes.setdefault(person, body["vote"])
        self.settle_admissions()

    def on_release(self, author: str, body: dict, record: dict) -> None:
        self.releases[record_hash(record)] = body | {"author": self.person[author], "at": record["at"]}

    def on_flower(self, author: str, body: dict, record: dict) -> None:
        self.flower[self.person[author]] = body

    def on_rotate(self, author: str, body: dict, record: dict) -> None:
        self.rotations[author] = body["new_key"]

    def on_rotated(self, author: str, body: dict, record: dict) -> None:
        person = self.person[body["old_key"]]
        self.person[author], self.current[person] = person, author

    # -- reading ----------------------------------------------------------------------------------------------

    def outcome(self, proposal: Proposal) -> str:
        """'passed', 'rejected' or 'open': decided once no further votes of its electorate could change it."""
        forked = self.forked_people()
        if proposal.author in forked:
            return "rejected"  # its proposer signed two histories: it decides nothing
        electorate = proposal.body.get("electorate", [])
        voters = [person for person in electorate if person not in forked]  # a forked member's vote never counts
        votes = [vote for person, vote in proposal.votes.items() if person in voters]
        yes, no, left = votes.count("yes"), votes.count("no"), len(voters) - len(votes)
        quorum = math.ceil(float(self.charter.get("quorum", 0.5)) * len(electorate))
        threshold = float(self.charter.get("threshold", 0.5))

        def passes(y: int, n: int) -> bool:
            return y + n >= quorum and y > threshold * (y + n)

        results = {passes(yes + a, no + b) for a in range(left + 1) for b in range(left + 1 - a)}
        return "open" if len(results) > 1 else ("passed" if results == {True} else "rejected")

    def tainted(self, release: dict) -> list[str]:
        return sorted(set(release.get("works", [])) & self.withdrawn)

    def consented(self, task: str, contributors: list[str]) -> list[dict]:
        """The offered examples of `task` by `contributors` none of whose works is withdrawn, in a fixed order."""
        chosen = [
            {"fingerprint": fingerprint} | offer
            for fingerprint, offer in self.offers.items()
            if offer["task"] == task and offer["owner"] in contributors
        ]
        return sorted(
            (e for e in chosen if consent.guild_may_train({p["work"] for p in e["parts"].values()}, self.withdrawn)),
            key=lambda e: e["fingerprint"],
        )
