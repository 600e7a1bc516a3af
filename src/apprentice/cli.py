"""The `apprentice` command: one verb per thing an artist does, each a thin shell over the core.

User errors print one sentence and exit 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import time
import webbrowser
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from apprentice.cli_guild import guild
from apprentice.errors import ApprenticeError
from apprentice.formats.layered import is_layered
from apprentice.formats.layers import part_words
from apprentice.guild.actions import change_consent
from apprentice.guild.signers import guild_signers
from apprentice.imports import add_examples
from apprentice.jobs import apply as apply_job
from apprentice.kinds import AUGMENTATIONS, DEFAULT_KIND, ApplyOptions, get_kind, kind_names, kinds
from apprentice.kinds.finish import SETTINGS as FINISH_SETTINGS
from apprentice.kinds.finish import Finish
from apprentice.krita import ENABLE
from apprentice.krita import install as install_krita_plugin
from apprentice.krita import write_zip as write_krita_zip
from apprentice.provenance.credentials import check as check_credentials
from apprentice.store.workshop import Workshop, default_home
from apprentice.terminal import console, emit, json_option, training_bar, workshop
from apprentice.train.distil import student_budget, train_and_distil
from apprentice.train.loop import Budget, TrainConfig
from apprentice.train.process import ready_for_applying, ready_for_training
from apprentice.train.retrain import retrain as retrain_task
from apprentice.train.settings import new_task_config, set_finish
from apprentice.views import distilled_text, example_parts, newest_manifest, precision_text, summary

DRAWN_FRAME = re.compile(r"-\d{4,}\.png$")  # an in-between's file, as inbetweens.py numbers the frames of a shot


class Group(click.Group):
    """Turns ApprenticeError into a one-line message and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ApprenticeError as error:
            raise click.ClickException(str(error)) from None


APPLYING_COMMANDS = ("apply", "serve")  # serve's training thread sets the heap for training while it trains


@click.group(cls=Group)
@click.version_option(package_name="apprentice")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Train apprentices on your own before/after work, and let them do the repetitive steps."""
    if ctx.invoked_subcommand in APPLYING_COMMANDS:  # once, at the edge
        ready_for_applying()
    else:  # the other commands may train (train, retrain, demo, guild work)
        ready_for_training()


@main.command()
@click.option("--name", help="Your name, as it appears on your works and in guilds.")
@json_option
def init(name: str | None, as_json: bool) -> None:
    """Create your workshop and your identity key (safe to run again)."""
    home = default_home()
    shop = Workshop.init(home, name)
    emit(
        {"workshop": str(home), "member": shop.member},
        as_json,
        f"Workshop ready at {home} (member {shop.member[:12]}).",
    )


class KindChoice(click.ParamType):
    """A task kind's name, checked against the kinds registered when the command runs, not when this module was
    imported: a plugin (or a test) that registers a kind later is accepted like the shipped ones."""

    name = "kind"

    def choice(self) -> click.Choice:
        return click.Choice(kind_names())

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return self.choice().convert(value, param, ctx)

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str | None:
        return self.choice().get_metavar(param, ctx)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
        return self.choice().shell_complete(ctx, param, incomplete)


class KindOption(click.Option):
    """`--kind`, whose help lists each registered kind with what it learns, as the command runs."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = "; ".join(f"{kind.name}: {kind.about}" for kind in kinds()) + "."
        return super().get_help_record(ctx)


@main.group()
def task() -> None:
    """Create tasks: the repetitive steps you want an apprentice for."""


def finish_options(default: str | None):
    """--palette, --alpha and --paper: how the apprentice finishes what it draws (auto: as the afters are)."""
    helps = {
        "palette": "Use only the afters' colours (on), any colour (off), or judge from the afters (auto).",
        "alpha": "Make transparency hard, 0 or 255 (on), keep it soft (off), or judge from the afters (auto).",
        "paper": "Snap near-white paper to pure white (on), leave it (off), or judge from the afters (auto).",
    }

    def add(command):
        for aspect, text in reversed(helps.items()):
            choice = click.Choice(FINISH_SETTINGS)
            command = click.option(f"--{aspect}", type=choice, default=default, show_default=bool(default), help=text)(
                command
            )
        return command

    return add


@task.command("new")
@click.argument("name")
@click.option("--kind", cls=KindOption, type=KindChoice(), default=DEFAULT_KIND, show_default=True)
@click.option(
    "--augment",
    type=click.Choice(AUGMENTATIONS),
    default="mirror",
    show_default=True,
    help="Mirror (and rotate) examples while training; use none for steps that depend on direction, like shading.",
)
@finish_options("auto")
@json_option
def task_new(name: str, kind: str, augment: str, as_json: bool, **finish: str) -> None:
    """Create a task NAME."""
    config = new_task_config(get_kind(kind).default_config(), augment, finish)
    created = workshop().new_task(name, kind, config)
    emit(
        {"name": created.name, "kind": created.kind, "config": created.config},
        as_json,
        f"Task '{name}' ({kind}) created.",
    )


@task.command("set")
@click.argument("name")
@finish_options(None)
@json_option
def task_set(name: str, as_json: bool, **finish: str | None) -> None:
    """Change how task NAME's apprentice finishes its drawings; the next `apprentice train` uses it."""
    changed = set_finish(workshop(), name, {aspect: value for aspect, value in finish.items() if value})
    chosen = ", ".join(f"{aspect} {value}" for aspect, value in changed.config["finish"].items())
    emit({"name": changed.name, "config": changed.config}, as_json, f"Task '{name}' finishes with {chosen}.")


@main.command()
@click.argument("name")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--before-layer", default="", help="In layered files (PSD, KRA, ORA): the layer holding the before.")
@click.option("--after-layer", default="", help="In layered files: the layer holding the after.")
@click.option("--mine", is_flag=True, help="Confirm you made files that carry a do-not-train signal.")
@json_option
def add(name: str, paths: tuple[Path, ...], before_layer: str, after_layer: str, mine: bool, as_json: bool) -> None:
    """Add examples to task NAME: before/after pairs (folders, X.before/X.after files, layered files), or for an
    inbetween task your animation (folders of numbered frames, GIF/APNG, layered files, X.key1/X.inbetween/X.key2)."""
    options = {"before_layer": before_layer, "after_layer": after_layer, "mine": mine}
    report = add_examples(workshop(), name, list(paths), options)
    text = f"Added {len(report.added)} example(s) to '{name}'"
    text += f"; {len(report.already_present)} were already there." if report.already_present else "."
    emit(report.to_dict(), as_json, text)


@main.command()
@click.argument("name")
@click.option("--minutes", type=float, help="Train for this many minutes (default 5).")
@click.option("--steps", type=int, help="Train until this many steps in total.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed and steps, same apprentice.")
@click.option("--fresh", is_flag=True, help="Start over instead of resuming from the last checkpoint.")
@click.option(
    "--student-minutes",
    type=float,
    help="Then teach a faster student this long; it replaces the apprentice only if it scores within 0.2 dB of it "
    "(default: 5,000 steps, within the training minutes, 1 to 10; 0: none).",
)
@json_option
def train(
    name: str,
    minutes: float | None,
    steps: int | None,
    seed: int,
    fresh: bool,
    student_minutes: float | None,
    as_json: bool,
) -> None:
    """Train the apprentice for task NAME (resumes after an interruption)."""
    config = TrainConfig(seed=seed)
    student = student_budget(minutes, steps, student_minutes)
    try:
        with training_bar(as_json) as report:
            made = train_and_distil(workshop(), name, Budget(steps, minutes), student, config, fresh, report)
    except KeyboardInterrupt:
        raise click.ClickException(f"Stopped; the steps so far are saved: `apprentice train {name}` resumes.") from None
    metrics = made.manifest["metrics"]
    best, identity = metrics["best"], metrics["identity"]
    text = (
        f"Apprentice {made.label()} is ready: held-out PSNR {best.get('psnr', float('nan')):.2f} dB, "
        f"SSIM {best.get('ssim', float('nan')):.3f} ({metrics.get('baseline', 'copying the before')} scores "
        f"{identity['psnr']:.2f} dB, {identity['ssim']:.3f})."
    )
    emit(made.manifest | ({"note": made.note} if made.note else {}), as_json, f"{made.note}\n{text}".strip())


@main.command()
@click.argument("name")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder for the results.")
@click.option("--layer", default="", help="In layered files: the layer to work on.")
@click.option("--apprentice", "apprentice_id", help="Use this apprentice id instead of the newest.")
@click.option("--between", type=int, default=1, show_default=True, help="Key-pose tasks: frames between each two.")
@click.option(
    "--timing",
    default="",
    help="Key-pose tasks: a timing chart instead of --between: positions between the keys (1/4,1/2,3/4) or a "
    "spacing (even 3, ease-in 3, ease-out 3, ease-in-out 5); one chart per gap separated by ';'.",
)
@click.option("--gif", is_flag=True, help="Key-pose tasks: also write the animation as a GIF.")
@click.option("--apng", is_flag=True, help="Key-pose tasks: also write the animation as an animated PNG.")
@click.option("--fps", type=float, default=12.0, show_default=True, help="Key-pose tasks: frames per second.")
@json_option
def apply(
    name: str,
    inputs: tuple[Path, ...],
    out_dir: Path,
    layer: str,
    apprentice_id: str | None,
    between: int,
    timing: str,
    gif: bool,
    apng: bool,
    fps: float,
    as_json: bool,
) -> None:
    """Apply the apprentice of task NAME to drawings (files, folders, or a layer of layered files); for a task
    that draws between key poses, INPUTS are the key poses in order and it draws --between frames between each two."""
    shop = workshop()
    formats = ("frames",) + ("gif",) * gif + ("apng",) * apng
    options = ApplyOptions(
        layer=layer, apprentice=apprentice_id, between=between, timing=timing, formats=formats, fps=fps
    )
    kind = get_kind(shop.task(name).kind)
    started = time.monotonic()
    with Progress(console=console, disable=as_json) as bar:
        job = bar.add_task(kind.applying, total=None)
        report = lambda done, total, _: bar.update(job, completed=done, total=total)  # noqa: E731
        results = apply_job(shop, name, list(inputs), out_dir, options, on_progress=report)
    seconds = time.monotonic() - started
    text = f"Wrote {len(results)} file(s) to {out_dir}."
    if kind.inputs == "sequence":
        drawn = sum(1 for result in results if DRAWN_FRAME.search(result.output))
        text += f" Drew {drawn} in-between(s) in {seconds:.1f} s: {drawn / max(seconds, 1e-9):.2f} frames per second."
    emit([r.to_dict() for r in results], as_json, text)


@main.command()
@click.argument("name")
@click.option("--onnx", "as_onnx", is_flag=True, required=True, help="Write an ONNX file (the only format so far).")
@click.option("--out", type=click.Path(path_type=Path), help="Where to write it (default: NAME.onnx here).")
@click.option("--apprentice", "apprentice_id", help="Export this apprentice id instead of the newest.")
@json_option
def export(name: str, as_onnx: bool, out: Path | None, apprentice_id: str | None, as_json: bool) -> None:
    """Export task NAME's apprentice as an ONNX file, to run it with ONNX Runtime or other tools."""
    from apprentice.export import export_onnx

    written = export_onnx(workshop(), name, out or Path(f"{name}.onnx"), apprentice_id)
    emit({"onnx": str(written)}, as_json, f"Wrote {written}.")


@main.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List tasks with their examples and apprentices."""
    shop = workshop()
    data = [summary(shop, t.name) for t in shop.tasks()]
    if as_json:
        emit(data, True, "")
        return
    table = Table("task", "kind", "examples", "apprentices", "newest held-out PSNR (baseline)", "consent")
    for item in data:
        newest = item["apprentices"][0] if item["apprentices"] else None
        score = f"{newest['val_psnr']:.2f} dB ({newest['identity_psnr']:.2f})" if newest else "not trained"
        taint = ("ok" if not newest["tainted_by"] else "tainted: retrain") if newest else ""
        table.add_row(item["name"], item["kind"], str(item["examples"]), str(len(item["apprentices"])), score, taint)
    Console().print(table)


def part_name(file: str, layer: str) -> str:
    """How `show` names the image within a file: a layer (or an animated layer's keyframe) of a layered file, else a
    frame of an animation."""
    return part_words(layer) if is_layered(Path(file)) else f"frame {int(layer) + 1}"


def taint_note(apprentice: dict) -> str:
    withdrawn = apprentice["tainted_by"]
    if not withdrawn:
        return "ok"
    return f"tainted: learned from {len(withdrawn)} withdrawn work(s) ({', '.join(w[:12] for w in withdrawn)})"


@main.command()
@click.argument("name")
@json_option
def show(name: str, as_json: bool) -> None:
    """Show task NAME: its examples and its newest apprentice's manifest."""
    shop = workshop()
    data = summary(shop, name)
    rows = example_parts(shop, name)
    data["example_list"] = rows
    data["manifest"] = newest_manifest(shop, name)
    if as_json:
        emit(data, True, "")
        return
    click.echo(f"{name} ({data['kind']}, augment {data['config'].get('augment')}): {data['examples']} example(s)")
    for row in rows:
        layer = f" {part_name(row['file'], row['layer'])}" if row["layer"] else ""
        size = f"{row['width']}×{row['height']}"
        click.echo(f"  {row['name']:<24} {row['role']:<9} {row['work'][:16]}{layer}  {size}  consent {row['consent']}")
    for share in (data["manifest"] or {}).get("owners", {}).values():
        click.echo(f"  newest learned from {share['name']}: {share['examples']} example(s), {share['pixels']:,} px")
    if data["manifest"]:
        finish = Finish.from_dict(data["manifest"]["output"].get("finish"))
        click.echo(f"  newest finishes with {finish.describe()}")
        click.echo(f"  newest {precision_text(data['manifest'])}")
        labels = {made["id"]: f"{name} #{made['version']} ({made['id']})" for made in data["apprentices"]}
        if distilled := distilled_text(data["manifest"], labels):
            click.echo(f"  newest is {distilled}")
    for made in data["apprentices"]:
        click.echo(
            f"  apprentice #{made['version']} {made['id']}: held-out PSNR {made['val_psnr']:.2f} dB, "
            f"SSIM {made['val_ssim']:.3f} (baseline {made['identity_psnr']:.2f} dB), "
            f"{made['steps']} steps in {made['seconds'] / 60:.1f} min, {made['created_at']}; {taint_note(made)}"
        )


@main.command()
@click.argument("works", nargs=-1, required=True)
@click.option("--scope", required=True, help="own, withdrawn, or guild:GUILD-ID.")
@json_option
def consent(works: tuple[str, ...], scope: str, as_json: bool) -> None:
    """Change what your WORKS (files you added, or work ids) may be used for; every change is signed and kept."""
    done = change_consent(workshop(), list(works), scope)
    text = f"{len(done.changes)} work(s) now '{scope}'."
    if scope == "withdrawn":
        text += " Runs started from now on leave them out; tainted apprentices show in `apprentice list`."
    if done.guild_records:
        retrains = done.retrain_proposals
        text += f" Your guild was told; {retrains} retrain proposal(s) opened." if retrains else " Your guild was told."
    emit([change.to_dict() for change in done.changes], as_json, text)


@main.command()
@click.argument("name")
@click.option("--minutes", type=float, help="Train for this many minutes (default: as many steps as before).")
@json_option
def retrain(name: str, minutes: float | None, as_json: bool) -> None:
    """Train a successor of task NAME's newest apprentice, on its settings, without withdrawn works."""
    with training_bar(as_json) as report:
        made = retrain_task(workshop(), name, Budget(minutes=minutes) if minutes else None, report)
    lineage = made.manifest["lineage"]
    emit(
        made.manifest, as_json, f"Apprentice {made.label()} succeeds {lineage['successor_of']} ({lineage['because']})."
    )


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@json_option
def provenance(files: tuple[Path, ...], as_json: bool) -> None:
    """Check the credentials `apply` wrote into FILES: a valid signature by a member you know (you, or a member
    of your guilds), an apprentice of yours whose manifest backs every claim, unchanged pixels.

    Exits 1 when any file fails any check (a file without credentials fails too), 0 only when every file passes.
    """
    shop = workshop()
    members = guild_signers(shop)
    results = [check_credentials(shop, path, members) for path in files]
    emit(results, as_json, "\n".join(result["verdict"] for result in results))
    failed = sum(not result["passed"] for result in results)
    if failed:
        raise click.ClickException(
            f"{failed} of {len(results)} file(s) failed the provenance check; each file's verdict says why."
        )


@main.command()
@click.option("--folder", type=click.Path(path_type=Path), default=Path("apprentice-demo"), show_default=True)
@click.option("--minutes", type=float, default=3.0, show_default=True, help="Training time.")
@click.option("--serve", is_flag=True, help="Afterwards, open the demo's workshop in your browser.")
@click.option(
    "--inbetween", is_flag=True, help="Demo in-betweening instead: cartoons it animates itself, keys in, GIFs out."
)
@json_option
def demo(folder: Path, minutes: float, serve: bool, inbetween: bool, as_json: bool) -> None:
    """Make a small rough-sketch → clean-ink workshop, train on it, apply to new sketches, write a contact sheet."""
    from apprentice.demo.cleanup import run_demo
    from apprentice.demo.inbetween import run_inbetween_demo

    with training_bar(as_json) as report:
        result = (run_inbetween_demo if inbetween else run_demo)(folder, minutes, report)
    animations = "".join(f"\nAnimation: {path}" for path in result.get("animations", []))
    emit(result, as_json, f"Contact sheet: {result['contact_sheet']}{animations}\n{result['summary']}")
    if serve:
        serve_workshop(folder / "workshop", "127.0.0.1", 8765, browser=True)


@main.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Answer other members' nodes on this address; the page itself stays on 127.0.0.1, for you alone.",
)
@click.option("--port", type=int, default=8765, show_default=True, help="Open the page on this port (0: any free one).")
@click.option(
    "--guild-port",
    type=int,
    help="Answer other members' nodes, encrypted, on this port (default: --port + 1; 0: any free one).",
)
@click.option("--no-browser", is_flag=True, help="Do not open the page in your browser.")
def serve(host: str, port: int, guild_port: int | None, no_browser: bool) -> None:
    """Open your workshop in your browser: tasks, examples, training and jobs (Ctrl-C stops it)."""
    serve_workshop(default_home(), host, port, browser=not no_browser, guild_port=guild_port)


def serve_workshop(home: Path, host: str, port: int, browser: bool, guild_port: int | None = None) -> None:
    """Build the web app for the workshop at `home`, bind the page on 127.0.0.1:`port` and the guild part over TLS
    on `host`:`guild_port`, say where they are, and serve until Ctrl-C."""
    from apprentice.guild.certificates import NodeCertificate
    from apprentice.web.app import create_app
    from apprentice.web.security import LOOPBACK_HOSTS
    from apprentice.web.serving import listeners, serve_node

    shown = f"[{host}]" if ":" in host else host
    guild_log = logging.getLogger("apprentice.guild")  # what other members' nodes sent, and what was refused
    guild_log.setLevel(logging.INFO)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    guild_log.addHandler(handler)
    app = create_app(home, [*LOOPBACK_HOSTS, shown])
    certificate = NodeCertificate(home)  # made from the member key, or remade if the key changed
    page_listener = bind("127.0.0.1", port, "--port")
    guild_listener = bind(host, (port + 1 if port else 0) if guild_port is None else guild_port, "--guild-port")
    url = f"http://127.0.0.1:{page_listener.getsockname()[1]}/"
    click.echo(f"Your workshop ({home}) is open at {url} — Ctrl-C stops it.")
    click.echo(
        f"Other members reach your node at https://{shown}:{guild_listener.getsockname()[1]} "
        "(encrypted; its certificate is your member key)."
    )
    if browser:
        webbrowser.open(url)
    page, guild_part = listeners(app, certificate)
    app.state.runs.closing = lambda: page.should_exit
    with contextlib.suppress(KeyboardInterrupt):  # where signals cannot be caught, Ctrl-C ends here
        serve_node(page, guild_part, page_listener, guild_listener)
    click.echo("Workshop closed.")


def bind(host: str, port: int, option: str = "--port") -> socket.socket:
    """A listening socket on host:port, or one sentence saying why there can be none."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise click.ClickException(
            f"Cannot listen on {host}:{port} ({error.strerror}); pick another port with {option}."
        ) from None
    listener.listen(128)
    return listener


@main.group()
def krita() -> None:
    """The Apprentice docker inside Krita, a client of `apprentice serve`."""


@krita.command("install")
@click.option("--zip", "zip_path", type=click.Path(path_type=Path), help="Write the plugin as a zip file instead.")
@json_option
def krita_install(zip_path: Path | None, as_json: bool) -> None:
    """Put the Krita plugin where Krita looks for Python plugins (or write it as a zip to import)."""
    if zip_path is not None:
        written = write_krita_zip(zip_path)
        how = "In Krita: Tools → Scripts → Import Python Plugin from File…, choose it, then enable it and restart."
        emit({"zip": str(written)}, as_json, f"Wrote the Krita plugin to {written}. {how}")
        return
    folder = install_krita_plugin()
    emit({"folder": str(folder)}, as_json, f"Installed the Krita plugin in {folder}. {ENABLE}")


main.add_command(guild)

if __name__ == "__main__":
    main()
