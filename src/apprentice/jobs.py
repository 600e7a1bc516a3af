"""Jobs: apply a task's apprentice to new inputs, read the way its kind reads them, and record every output.

Each output file carries the apprentice's credentials and is recorded as a job in the catalog.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from apprentice.calibration import int8_ranges, precision_for
from apprentice.drawings import draw_each
from apprentice.errors import BadInput, PartlyDone
from apprentice.formats.pairs import Source
from apprentice.inbetweens import draw_sequence
from apprentice.kinds import ApplyOptions, get_kind
from apprentice.kinds.precision import runner
from apprentice.provenance.manifest import Apprentice, find, load_network
from apprentice.store.apprentices import add_job
from apprentice.store.workshop import Workshop

DRAW = {"each": draw_each, "sequence": draw_sequence}  # how a kind's inputs are read, drawn and written


@dataclass(frozen=True)
class JobResult:
    """One input drawing and the file the apprentice made from it."""

    input: str
    output: str
    apprentice: str

    def to_dict(self) -> dict:
        return {"input": self.input, "output": self.output, "apprentice": self.apprentice}


def apply(
    workshop: Workshop,
    task_name: str,
    paths: list[Path],
    out_dir: Path,
    options: ApplyOptions | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> list[JobResult]:
    """Apply the task's (newest or chosen) apprentice to the inputs the paths name; write results into out_dir.

    The task's kind says whether each drawing is applied on its own or all inputs are one sequence of key poses.
    Raises PartlyDone, holding the results, when some inputs could not be read but others were drawn.
    """
    options = options or ApplyOptions()
    kind = get_kind(workshop.task(task_name).kind)
    apprentice = find(workshop, task_name, options.apprentice)
    net, paths = load_network(apprentice), [Path(path) for path in paths]
    precision = precision_for(workshop, apprentice, net, options.precision)
    net = runner(net, precision, int8_ranges(apprentice.manifest))
    made = DRAW[kind.inputs](workshop, apprentice, kind, net, paths, out_dir, options, on_progress)
    results: list[JobResult] = []
    try:
        for source, target in made:
            results.append(record_job(workshop, apprentice, source, target))
    except BadInput as error:
        if results:  # what was drawn stays drawn and recorded; the caller shows it beside the sentence
            raise PartlyDone(str(error), results) from None
        raise
    return results


def apply_files(
    workshop: Workshop,
    task_name: str,
    paths: list[Path],
    out_dir: Path,
    layer: str = "",
    apprentice_id: str | None = None,
    tile: int = 1024,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> list[JobResult]:
    """`apply` with a layer, an apprentice id and a tile size, as scripts and the demo call it."""
    options = ApplyOptions(layer=layer, apprentice=apprentice_id, tile=tile)
    return apply(workshop, task_name, paths, out_dir, options, on_progress)


def record_job(workshop: Workshop, apprentice: Apprentice, source: Source, target: Path) -> JobResult:
    with workshop.catalog.write() as db:
        add_job(db, apprentice.id, str(source), str(target))
    return JobResult(str(source), str(target), apprentice.id)
