"""How to apply an apprentice: one typed, serialisable set of options the CLI and the page both build.

Each kind and the job that writes its outputs read the options they use and leave the rest alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from apprentice.errors import BadInput
from apprentice.kinds import timing
from apprentice.kinds.precision import PRECISIONS

FORMATS = ("frames", "gif", "apng")  # how a sequence is written: numbered PNG frames, an animated GIF, an APNG


@dataclass(frozen=True)
class ApplyOptions:
    """The choices a user makes when applying an apprentice; defaults are the CLI's."""

    layer: str = ""  # in layered files: the layer to work on
    apprentice: str | None = None  # an apprentice id; None means the task's newest
    between: int = 1  # drawings to make between each two key poses
    formats: tuple[str, ...] = ("frames",)  # how a sequence of drawings is written (FORMATS)
    fps: float = 12.0  # frames per second of a written animation
    shot: str | None = None  # the name of a written sequence; None means the inputs' folder or file name
    tile: int = 1024  # the network draws at most tile² pixels at once (kinds.tiling.grid)
    precision: str = "auto"  # fp32, bf16 or int8 (each only where the apprentice's guard allows it), or auto: measured
    timing: str = ""  # a timing chart (kinds/timing.py) placing the in-betweens; replaces `between` when given

    def __post_init__(self) -> None:
        unknown = [name for name in self.formats if name not in FORMATS]
        if unknown:
            raise BadInput(f"'{unknown[0]}' is not an output format Apprentice writes; use {', '.join(FORMATS)}.")
        if self.precision not in PRECISIONS:
            raise BadInput(f"'{self.precision}' is not a precision Apprentice applies in; use {', '.join(PRECISIONS)}.")
        if self.timing and self.between != 1:
            raise BadInput("A timing chart already says how many in-betweens to draw; give --timing or --between.")
        if self.timing:
            timing.parse_chart(self.timing, 1 + self.timing.count(";"))  # refused here, before any work starts

    def to_dict(self) -> dict:
        return asdict(self) | {"formats": list(self.formats)}

    @classmethod
    def from_dict(cls, data: dict) -> ApplyOptions:
        """The options a `to_dict` made; unknown fields are refused, not ignored."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadInput(f"'{unknown[0]}' is not an apply option; use {', '.join(sorted(known))}.")
        return cls(**(data | ({"formats": tuple(data["formats"])} if "formats" in data else {})))
