"""The exact shape of every guild record type: each field's type, hex length, time format, length and count bounds.

A record another node sent is checked against these (pydantic, strict, no extra fields) before it is judged,
stored or folded, so a signed but malformed record is refused everywhere the same way and breaks no view.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from apprentice.identity import canonical

MAX_EXAMPLES = 10_000  # per offer
MAX_MEMBERS = 1_000  # in an electorate, a contributor list or a release's owners
MAX_WORKS = 50_000  # in a withdrawal or a release
MAX_TASK_CONFIG = 4_096  # bytes of canonical JSON
MAX_ROUNDS = 1_000  # of a federated run


def hex_of(length: int) -> type[str]:
    return Annotated[str, StringConstraints(pattern=f"^[0-9a-f]{{{length}}}$", strict=True)]  # type: ignore[return-value]


Hash = hex_of(64)  # a SHA-256: a work, a guild, a record, a manifest, a weights file
Key = hex_of(64)  # an Ed25519 public key: a member
ApprenticeId = hex_of(16)
Signature = hex_of(128)
Nonce = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16,64}$", strict=True)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=120, strict=True)]
Text = Annotated[str, StringConstraints(max_length=500, strict=True)]
Address = Annotated[str, StringConstraints(max_length=300, pattern=r"^(https?://[^\s/?#]+)?$", strict=True)]
TaskName = Annotated[str, StringConstraints(pattern=r"^[\w][\w \-]{0,63}$", strict=True)]
Layer = Annotated[str, StringConstraints(max_length=200, strict=True)]
Count = Annotated[int, Field(ge=0, le=2**40, strict=True)]


def iso_time(value: str) -> str:
    datetime.fromisoformat(value)  # raises ValueError, which pydantic reports
    return value


Time = Annotated[str, StringConstraints(max_length=40, strict=True), AfterValidator(iso_time)]


def small_json(value: dict) -> dict:
    if len(canonical(value)) > MAX_TASK_CONFIG:
        raise ValueError(f"it is larger than {MAX_TASK_CONFIG} bytes")
    return value


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Charter(Shape):
    name: Name
    join: Literal["invite", "vote"]
    quorum: Annotated[float, Field(gt=0, le=1)]
    threshold: Annotated[float, Field(ge=0, lt=1)]
    founder_name: Name
    address: Address
    nonce: Nonce


class Invite(Shape):
    nonce: Nonce


class InviteToken(Shape):
    guild: Hash
    nonce: Nonce
    address: Address
    name: Name
    by: Key
    sig: Signature


class Join(Shape):
    invite: InviteToken
    name: Name
    address: Address


class AddressChange(Shape):
    address: Address


class Part(Shape):
    work: Hash
    layer: Layer
    file: Annotated[str, StringConstraints(max_length=255, strict=True)]


class OfferedExample(Shape):
    fingerprint: Hash
    name: Name
    size: Annotated[list[Annotated[int, Field(ge=1, le=1_000_000, strict=True)]], Field(min_length=2, max_length=2)]
    sequence: Annotated[str, StringConstraints(pattern=r"^([0-9a-f]{64})?$", strict=True)]
    position: Count
    parts: Annotated[dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,24}$")], Part], Field(max_length=8)]


class Offer(Shape):
    task: TaskName
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,32}$", strict=True)]
    examples: Annotated[list[OfferedExample], Field(min_length=1, max_length=MAX_EXAMPLES)]


class Withdraw(Shape):
    works: Annotated[list[Hash], Field(min_length=1, max_length=MAX_WORKS)]


class Compute(Shape):
    member: Key
    minutes: Annotated[float, Field(gt=0, le=24 * 60)]


Cut = Annotated[dict[Key, Annotated[int, Field(ge=0, strict=True)]], Field(max_length=MAX_MEMBERS)]
Electorate = Annotated[list[Key], Field(min_length=1, max_length=MAX_MEMBERS)]


class TrainProposal(Shape):
    kind: Literal["train"]
    task: TaskName
    task_kind: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,32}$", strict=True)]
    task_config: Annotated[dict, AfterValidator(small_json)] = {}
    contributors: Annotated[list[Key], Field(min_length=1, max_length=MAX_MEMBERS)]
    compute: Compute
    electorate: Electorate
    seen: Cut
    successor_of: Hash | None = None
    because: Text | None = None
    training: Literal["pooled", "federated"] = "pooled"  # federated: `compute.member` hosts the aggregation
    rounds: Annotated[int, Field(ge=1, le=MAX_ROUNDS, strict=True)] | None = None


class AdmitProposal(Shape):
    kind: Literal["admit"]
    nonce: Nonce
    electorate: Electorate
    seen: Cut


class Vote(Shape):
    proposal: Hash
    vote: Literal["yes", "no"]


NodeKey = Annotated[
    str, StringConstraints(pattern=r"^ecdsa-sha2-nistp(256|384|521) [A-Za-z0-9+/=]{1,400}$", strict=True)
]
PEM = r"^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n?$"
Rounds = Annotated[list[Annotated[int, Field(ge=1, le=MAX_ROUNDS, strict=True)]], Field(max_length=MAX_ROUNDS)]


class OwnerShare(Shape):
    name: Name
    examples: Count
    pixels: Count


class Release(Shape):
    proposal: Hash
    task: TaskName
    apprentice: ApprenticeId
    manifest_sha256: Hash
    weights_sha256: Hash
    owners: Annotated[dict[Key, OwnerShare], Field(min_length=1, max_length=MAX_MEMBERS)]
    works: Annotated[list[Hash], Field(min_length=1, max_length=MAX_WORKS)]
    training: Literal["pooled", "federated"] = "pooled"
    rounds: Annotated[int, Field(ge=1, le=MAX_ROUNDS, strict=True)] | None = None
    host: Key | None = None
    took_part: Annotated[dict[Key, Rounds], Field(max_length=MAX_MEMBERS)] = {}  # member → the rounds they trained
    kept_round: Annotated[int, Field(ge=1, le=MAX_ROUNDS, strict=True)] | None = None  # the aggregate released
    refused: Annotated[list[NodeKey], Field(max_length=MAX_MEMBERS)] = []  # Flower nodes the host turned away


class FlowerNode(Shape):
    """A member's Flower node: the key its SuperNode signs with, and the certificate (and address) of its SuperLink."""

    node_key: NodeKey
    link_certificate: Annotated[str, StringConstraints(max_length=4_000, pattern=PEM, strict=True)]
    link_address: Annotated[str, StringConstraints(max_length=300, pattern=r"^([\w.\-]+|\[[0-9a-f:]+\]):\d{1,5}$|^$")]


class Rotate(Shape):
    new_key: Key


class Rotated(Shape):
    old_key: Key
    rotate: Hash


BODIES: dict[str, type[Shape] | tuple[type[Shape], ...]] = {
    "charter": Charter,
    "invite": Invite,
    "join": Join,
    "address": AddressChange,
    "offer": Offer,
    "withdraw": Withdraw,
    "proposal": (TrainProposal, AdmitProposal),
    "vote": Vote,
    "release": Release,
    "rotate": Rotate,
    "rotated": Rotated,
    "flower": FlowerNode,
}


class Envelope(Shape):
    """A record's fields around its body."""

    guild: Annotated[str, StringConstraints(pattern=r"^([0-9a-f]{64})?$", strict=True)]  # '' only in a charter
    author: Key
    seq: Annotated[int, Field(ge=1, le=2**40, strict=True)]
    prev: Annotated[str, StringConstraints(pattern=r"^([0-9a-f]{64})?$", strict=True)]
    type: Literal[tuple(BODIES)]  # type: ignore[valid-type]
    body: dict
    at: Time
    sig: Signature


def record_problem(record: object) -> str:
    """Why `record` does not have the shape of a guild record ('' when it does), in a few words for the log."""
    if not isinstance(record, dict):
        return "it is not a guild record"
    try:
        envelope = Envelope.model_validate(record)
    except ValidationError as error:
        return f"its {where(error)} is malformed"
    return body_problem(envelope.type, envelope.body)


def body_problem(kind: str, body: dict) -> str:
    shapes = BODIES[kind] if isinstance(BODIES[kind], tuple) else (BODIES[kind],)
    problems = []
    for shape in shapes:
        try:
            shape.model_validate(body)
            return ""
        except ValidationError as error:
            problems.append(where(error))
    if kind == "proposal" and body.get("kind") not in ("train", "admit"):
        return f"its proposal kind '{str(body.get('kind'))[:20]}' is unknown"
    index = 1 if kind == "proposal" and body.get("kind") == "admit" else 0
    return f"its {kind}'s {problems[index]} is malformed"


def where(error: ValidationError) -> str:
    """The first field a validation error names, as a dotted path: 'body.examples.0.parts'."""
    first = error.errors()[0]
    return ".".join(str(part) for part in first["loc"]) or "shape"


class Open(BaseModel):
    """A shape whose other fields are not read here, so they are left as they are."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


class ManifestPart(Open):
    work: Hash
    owner: Key


class ManifestExample(Open):
    parts: Annotated[dict[str, ManifestPart], Field(min_length=1, max_length=8)]


class ManifestWeights(Open):
    sha256: Hash


class Scores(Open):
    psnr: float | None = None
    ssim: float | None = None


class Baseline(Open):
    psnr: float


class ManifestMetrics(Open):
    best: Scores
    identity: Baseline


class ManifestTraining(Open):
    steps: Count
    seconds: Annotated[float, Field(ge=0)]


class ManifestLineage(Open):
    successor_of: ApprenticeId | None = None
    because: Text | None = None


Channel = Annotated[int, Field(ge=0, le=255, strict=True)]


class ManifestFinish(Open):
    """How the apprentice finishes what it draws (`kinds.finish.Finish`): read on every apply and card."""

    palette: Annotated[list[Annotated[list[Channel], Field(min_length=4, max_length=4)]], Field(max_length=64)] = []
    keeps_input: bool = False
    alpha: bool = False
    opaque: bool = False
    paper: Channel = 0
    note: Text = ""
    picks: bool = False
    sure: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0


class ManifestOutput(Open):
    finish: ManifestFinish | None = None


class ReleasedManifest(Open):
    """What a member reads of a released apprentice's manifest before installing it (and the catalog row takes)."""

    id: ApprenticeId
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,32}$")]
    created_at: Time
    task_config: Annotated[dict, AfterValidator(small_json)]
    weights: ManifestWeights
    examples: Annotated[list[ManifestExample], Field(min_length=1, max_length=MAX_EXAMPLES)]
    metrics: ManifestMetrics
    training: ManifestTraining
    output: ManifestOutput = ManifestOutput()
    lineage: ManifestLineage = ManifestLineage()


def released_manifest(data: bytes) -> ReleasedManifest | None:
    """The manifest's facts a release is checked against, or None when its bytes are not such a manifest."""
    try:
        return ReleasedManifest.model_validate_json(data)
    except ValidationError:
        return None
