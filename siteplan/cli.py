"""The ``siteplan`` command line.

``siteplan run [SCENARIO] [--out DIR]`` runs a scenario (the bundled demo
when none is named) and prints a summary; ``siteplan make-city`` regenerates
the synthetic demo city. Errors print as one clear message, never a
traceback.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from .errors import SiteplanError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Place affordable-housing targets onto land parcels.")
console = Console(stderr=False)
err_console = Console(stderr=True)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, show_time=False)],
        force=True,
    )


def _summary_tables(result) -> list[Table]:
    plan, scenario = result.plan, result.scenario
    s = plan.summary()
    by_type = Table(title="Targets and placed units by year and type")
    by_type.add_column("year")
    types = list(plan.problem.types)
    for t in types:
        by_type.add_column(scenario.type_label(t), justify="right")
    for year, part in s.groupby("year"):
        cells = []
        for t in types:
            row = part.loc[part["type"] == t].iloc[0]
            mark = "" if row["placed"] == row["target"] else " [red]![/red]"
            cells.append(f"{row['placed']:,} / {row['target']:,}{mark}")
        by_type.add_row(str(year), *cells)
    zone = Table(title="Units by zone")
    zone.add_column("zone")
    zone.add_column("target", justify="right")
    zone.add_column("placed", justify="right")
    placed = plan.by_column("zone")
    for z in sorted(set(placed.index) | set(scenario.zones)):
        tgt = scenario.zones.get(z)
        zone.add_row(z, f"{tgt:,}" if tgt is not None else "-", f"{int(placed.get(z, 0)):,}")
    return [by_type, zone]


def _error_text(err: Exception) -> str:
    """One message for an error: siteplan's own as it is; an OSError as the path, the reason and the fix."""
    if isinstance(err, SiteplanError) or not isinstance(err, OSError):
        return str(err)
    if isinstance(err, FileNotFoundError) and err.filename is None:
        return str(err)  # siteplan's own not-found messages carry their fix
    what = err.strerror or type(err).__name__
    where = f"{err.filename}: " if err.filename else ""
    return f"{where}{what}; check that the path exists, that you may read and write it, and that the disk has space"


def _print_error(err: Exception) -> None:
    # Plain text: messages quote scenario keys like [layers], which are
    # not markup, and paths must not be wrapped mid-name.
    err_console.print(Text("error: ", style="bold red") + Text(_error_text(err)), soft_wrap=True, highlight=False)


@contextmanager
def _plain_errors(*, interrupted: str = "no output was changed") -> Iterator[None]:
    """Turn an error into one printed message and exit 2, and Ctrl-C into a line and exit 130.

    siteplan's own errors and OSErrors (a full disk, a file in the way) are
    printed as :func:`_print_error` words them; a failed check's findings are
    printed already, so only its first line follows. Never a traceback.
    """
    from .check import CheckError

    try:
        yield
    except CheckError as err:
        err_console.print(Text("error: ", style="bold red") + Text(str(err).splitlines()[0]), soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None
    except (SiteplanError, OSError) as err:
        _print_error(err)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err_console.print(f"[bold red]interrupted:[/bold red] {interrupted}")
        raise typer.Exit(130) from None


def _print_findings(report) -> None:
    """The errors, repairs and warnings of the checks before a run, as ``siteplan check`` lists them."""
    from .check import findings_lines

    lines = findings_lines(report, ("error", "repair", "warning"))
    if lines:
        err_console.print(Text("\n".join(lines[1:])), soft_wrap=True, highlight=False)


@app.command()
def run(
    scenario: Annotated[Optional[Path], typer.Argument(help="Scenario TOML file; default: the bundled demo.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder; default out/<scenario name>.")] = None,
    lang: Annotated[str, typer.Option("--lang", help="Map labels: zh or en.")] = "zh",
    alternatives: Annotated[Optional[int], typer.Option("--alternatives", min=1, max=20, help="Make K plans: the best and near-optimal, different ones.")] = None,
    tiles: Annotated[Optional[str], typer.Option("--tiles", help="Map basemap: none, osm, tianditu (needs a key) or gaode; default the scenario's \\[map] tiles (none).")] = None,
    shapefile: Annotated[bool, typer.Option("--shapefile", help="Also write shapefile/ (GBK, .cpg, fields.csv alias table) for ArcGIS.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")] = False,
) -> None:
    """Run a scenario: check it as siteplan check does, then compute features, solve, write the plan."""
    _setup_logging(verbose)
    from .pipeline import find_demo_scenario, run as run_pipeline

    if lang not in ("zh", "en"):
        raise typer.BadParameter("use zh or en", param_hint="--lang")
    if tiles is not None and tiles.lower() not in ("none", "osm", "tianditu", "gaode"):
        raise typer.BadParameter(f"unknown map tiles {tiles!r}; use none, osm, tianditu or gaode", param_hint="--tiles")
    with _plain_errors():
        path = scenario if scenario is not None else find_demo_scenario()
        with console.status("Starting") as status:
            def progress(msg: str) -> None:
                console.print(f"[green]\u2713[/green] {msg}" if msg.startswith("Wrote") else f"[bold]\u25b6[/bold] {msg}")
                status.update(msg)
            result = run_pipeline(path, out_dir=out, lang=lang, alternatives=alternatives, shapefile=shapefile,
                                  tiles=tiles, progress=progress, on_check=_print_findings)
    for table in _summary_tables(result):
        console.print(table)
    rep = result.plan.report
    console.print(
        f"Solver {rep.solver}: {rep.status}, gap {100 * rep.gap:.2f}%, "
        f"{rep.build_s + rep.solve_s + rep.rounding_s:.1f} s"
        + (" [yellow](time limit hit: best plan found)[/yellow]" if rep.time_limit_hit else "")
    )
    comp = result.plan.compliance()
    table = Table(title="Compliance (compliance.csv)")
    for col in ("rule", "required", "achieved", "binding", "shortfall"):
        table.add_column(col, justify="right" if col == "shortfall" else "left")
    for row in comp.itertuples():
        mark = "" if row.ok else "[red]! [/red]"
        table.add_row(Text(row.rule), Text(str(row.required)), Text(str(row.achieved)), "yes" if row.binding else "no", f"{mark}{row.shortfall:,.0f}")
    console.print(table)
    if len(result.alternatives) > 1:
        objs = ", ".join(f"{p.report.objective:,.1f}" for p in result.alternatives)
        console.print(f"{len(result.alternatives)} alternative plans (objectives {objs}); see selection_frequency.csv")
        from .solve.alternatives import difference_table

        diff = difference_table(result.alternatives, differ=result.scenario.alternatives.differ)
        least = diff[["parcels_differ_a", "parcels_differ_b"]].min(axis=None)
        console.print(f"Every two plans differ in at least {least:.0%} of their movable parcels (new projects not locked in; "
                      f"asked {result.scenario.alternatives.differ:.0%}); see alternatives_difference.csv")
    if len(result.plan.shortfall):
        console.print(f"[yellow]Shortfall: {result.plan.total_shortfall:,.0f} units; see run.json[/yellow]")
        console.print(Text(result.plan.shortfall.to_string(index=False)), soft_wrap=True)
    folder = next(iter(result.files.values())).parent
    console.print(f"Outputs in [bold]{folder}[/bold]: {', '.join(result.files)}")


@app.command()
def check(
    scenario: Annotated[Optional[Path], typer.Argument(help="Scenario TOML file; default: the bundled demo.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")] = False,
) -> None:
    """Check a scenario and its layers without solving; exit 0 clean, 1 warnings, 2 errors."""
    _setup_logging(verbose)
    from .check import check as check_scenario, format_report
    from .pipeline import find_demo_scenario

    with _plain_errors(interrupted="nothing was checked"):
        path = scenario if scenario is not None else find_demo_scenario()
        report = check_scenario(path)
    console.print(Text(format_report(report)), soft_wrap=True, highlight=False)
    raise typer.Exit(report.exit_code)


@app.command("make-city")
def make_city(
    out: Annotated[Path, typer.Option("--out", help="Folder for the layers.")] = Path("layers"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2016,
    parcels: Annotated[int, typer.Option(help="Number of candidate parcels.")] = 3000,
) -> None:
    """Generate the synthetic demo city's layers."""
    from . import synth

    city = synth.make_city(seed=seed, n_parcels=parcels)
    paths = synth.write_city(city, out)
    console.print(f"Wrote {len(paths)} layers to {out}")


@app.command("compare")
def compare(
    out_a: Annotated[Path, typer.Argument(help="Output folder of plan A (from siteplan run).")],
    out_b: Annotated[Path, typer.Argument(help="Output folder of plan B.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for the comparison; default compare-<A>-vs-<B> beside A.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")] = False,
) -> None:
    """Compare two runs: a side-by-side map and difference tables."""
    _setup_logging(verbose)
    from .outputs.compare import compare_runs, write_comparison

    with _plain_errors():
        a, b, tables = compare_runs(out_a, out_b)
        files = write_comparison(out_a, out_b, out, runs=(a, b, tables))
    counts = tables["parcels"]["change"].value_counts()
    summary = Table(title=f"A = {a.name}, B = {b.name}")
    for col in ("parcels only in A", "only in B", "in both", "of which changed"):
        summary.add_column(col, justify="right")
    changed = int(counts.drop(["A only", "B only", "same"], errors="ignore").sum())
    summary.add_row(*(f"{int(counts.get(k, 0)):,}" for k in ("A only", "B only")),
                    f"{int(len(tables['parcels']) - counts.get('A only', 0) - counts.get('B only', 0)):,}", f"{changed:,}")
    console.print(summary)
    units = tables["units"]
    moved = units.loc[(units["by"] == "district") & (units["delta"] != 0)]
    if len(moved):
        console.print(Text("Units by district, B - A: " + ", ".join(f"{r.value} {r.delta:+,}" for r in moved.itertuples())), soft_wrap=True)
    folder = next(iter(files.values())).parent
    console.print(f"Outputs in [bold]{folder}[/bold]: {', '.join(files)}")


#: The Dask options of ``sweep`` and ``batch``.
_Scheduler = Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler address (tcp://host:8786); default a local cluster.")]
_Workers = Annotated[Optional[int], typer.Option("--workers", min=1, help="Local worker processes (default: the cores, at most 4).")]


@app.command("sweep")
def sweep(
    scenario: Annotated[Path, typer.Argument(help="Base scenario TOML file.")],
    vary: Annotated[list[str], typer.Option("--vary", help="KEY=V1,V2,...: a dotted scenario key and its values (rules.transit.share=0.5,0.7), or targets=0.9,1.1 to scale every target. Repeat for a grid.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Sweep folder; default out/<scenario name>-sweep.")] = None,
    scheduler: _Scheduler = None,
    workers: _Workers = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")] = False,
) -> None:
    """Solve every combination of --vary settings on Dask; one folder per variant and sweep.csv."""
    _setup_logging(verbose)
    from .sweep import parse_vary, run_sweep

    with _plain_errors(interrupted="finished variants keep their folders; sweep.csv was not written"):
        varies = [parse_vary(v) for v in vary]
        table, folder = run_sweep(scenario, varies, out_dir=out, scheduler=scheduler, workers=workers,
                                  progress=lambda msg: console.print(f"[bold]\u25b6[/bold] {msg}"))
    _show_runs(table, f"Sweep of {scenario.name}: {len(table)} variant(s)", "settings",
               outputs=f"Outputs in [bold]{folder}[/bold]: one folder per variant and sweep.csv")


@app.command()
def batch(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario TOML files, e.g. one per city of a province.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Batch folder; default out/batch.")] = None,
    scheduler: _Scheduler = None,
    workers: _Workers = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")] = False,
) -> None:
    """Solve several scenarios (the cities of a province) on Dask; one folder per scenario and batch.csv."""
    _setup_logging(verbose)
    from .sweep import run_batch

    with _plain_errors(interrupted="finished scenarios keep their folders; batch.csv was not written"):
        table, folder = run_batch(scenarios, out_dir=out, scheduler=scheduler, workers=workers,
                                  progress=lambda msg: console.print(f"[bold]\u25b6[/bold] {msg}"))
    shown = table.assign(scenario=[Path(p).name for p in table["scenario"]])  # the full paths are in batch.csv
    _show_runs(shown, f"Batch of {len(table)} scenario(s)", "scenario",
               outputs=f"Outputs in [bold]{folder}[/bold]: one folder per scenario and batch.csv")


def _show_runs(table, title: str, about: str, *, outputs: str) -> None:
    """Print a sweep's or batch's table (``about``: the column saying what each run is), each error and
    the ``outputs`` line; exit 1 if a run failed."""
    shown = Table(title=title)
    for col in ("variant", about, "status", "placed_units", "shortfall_units", "projects", "new_land_gross_ha"):
        shown.add_column(col, justify="right" if col.endswith(("units", "projects", "ha")) else "left")
    for row in table.itertuples():
        cells = [row.variant, str(getattr(row, about)), str(row.status)]
        if row.status == "error":
            cells += ["-", "-", "-", "-"]
        else:
            cells += [f"{row.placed_units:,}", f"{row.shortfall_units:,.0f}", f"{row.projects:,}", f"{row.new_land_gross_ha:,.2f}"]
        shown.add_row(*(Text(c) for c in cells))
    console.print(shown)
    for row in table.loc[table["status"] == "error"].itertuples():
        err_console.print(Text(f"{row.variant}: {row.error}"), soft_wrap=True)
    console.print(outputs)
    if (table["status"] == "error").any():
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - thin wrapper
    sys.exit(app())
