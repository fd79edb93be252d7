"""The ``siteplan`` command line.

``siteplan run [SCENARIO] [--out DIR]`` runs a scenario (the bundled demo
when none is named) and prints a summary; ``siteplan make-city`` regenerates
the synthetic demo city. Errors print as one clear message, never a
traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from .errors import SiteplanError, error_text as _error_text

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Place affordable-housing targets onto land parcels.")
console = Console(stderr=False)
err_console = Console(stderr=True)


#: Libraries whose INFO lines (GDAL's "Created 396 records", Dask's cluster start) are not the planner's business.
_QUIET_LOGGERS = ("pyogrio", "fiona", "rasterio", "matplotlib", "PIL", "distributed", "dask", "bokeh", "tornado",
                  "urllib3", "fsspec", "asyncio", "pyproj", "shapely", "numexpr")


def _only_siteplan_info(record: logging.LogRecord) -> bool:
    """Let through siteplan's own lines and every library's warnings and errors."""
    return record.levelno >= logging.WARNING or record.name == "siteplan" or record.name.startswith("siteplan.")


def _setup_logging(verbose: bool) -> None:
    """Log siteplan's steps with ``--verbose``, else its warnings; other libraries' warnings only, even with ``--verbose``."""
    handler = RichHandler(console=err_console, show_path=False, show_time=False)
    handler.addFilter(_only_siteplan_info)
    # the live progress display opens siteplan's logger to INFO while it runs; this handler keeps to warnings then
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s", handlers=[handler], force=True)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # distributed sets its loggers' levels from Dask's config when imported (later, by sweep and batch), in workers too
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")


def _table(title: str, columns: Sequence[str], *, right: Sequence[str] = ()) -> Table:
    """A table that fits the console: every cell folds onto more lines rather than being cut with "…".

    Print it with :func:`_print_table`, which keeps the figures' columns (``right``) no wider than their widest
    figure, so the width left goes to the names.
    """
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for col in columns:
        table.add_column(col, justify="right" if col in right else "left", overflow="fold")
    return table


def _fits(table: Table) -> bool:
    """Whether a table's cells fit the console's width without folding."""
    from rich.measure import Measurement

    return Measurement.get(console, console.options.update_width(10_000), table).maximum <= console.width


def _print_table(table: Table) -> None:
    """Print a :func:`_table` on the console, its right-aligned (figure) columns as narrow as their cells."""
    from rich.cells import cell_len

    for column in table.columns:
        if column.justify == "right":
            texts = [column.header, *column.cells]
            column.max_width = max(cell_len(line) for t in texts for line in (t.plain if isinstance(t, Text) else str(t)).split("\n"))
    console.print(table)


def _summary_tables(result) -> list[Table]:
    plan, scenario = result.plan, result.scenario
    s = plan.summary()
    types = list(plan.problem.types)
    labels = [scenario.type_label(t) for t in types]
    by_type = _table("Targets and placed units by year and type", ["year", *labels], right=labels)
    for year, part in s.groupby("year"):
        cells = []
        for t in types:
            row = part.loc[part["type"] == t].iloc[0]
            mark = "" if row["placed"] == row["target"] else " [red]![/red]"
            cells.append(f"{row['placed']:,} / {row['target']:,}{mark}")
        by_type.add_row(str(year), *cells)
    zone = _table("Units by zone", ["zone", "target", "placed"], right=["target", "placed"])
    placed = plan.by_column("zone")
    for z in sorted(set(placed.index) | set(scenario.zones)):
        tgt = scenario.zones.get(z)
        zone.add_row(z, f"{tgt:,}" if tgt is not None else "-", f"{int(placed.get(z, 0)):,}")
    return [by_type, zone]


def _print_status(plan) -> None:
    """The plan's one status line (:attr:`Plan.status <siteplan.solve.plan.Plan.status>`) and the solver's figures."""
    st, rep = plan.status, plan.report
    colour = {"optimal": "green", "feasible": "yellow", "shortfall": "red"}[st.code]
    console.print(Text("Status: ", style="bold") + Text(st.text("en"), style=colour), highlight=False)  # wrapped at words
    gap = f"gap {st.gap:.2%} (limit {st.gap_limit:.2%})" if st.gap == st.gap else "no gap (no bound)"
    console.print(f"Solver {rep.solver} ({rep.method}): {gap}, {rep.build_s + rep.solve_s + rep.rounding_s:.1f} s"
                  + (" [yellow](time limit hit: best plan found)[/yellow]" if st.time_limit_hit else ""), highlight=False)


#: Rows of the shortfall table the console shows; shortfall.csv has them all.
SHORTFALL_ROWS = 20


def _cell(value, *, whole: bool = False) -> Text:
    """A table cell: ``-`` for a missing value (never NaN), whole units with thousands separators."""
    import pandas as pd

    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return Text("-")
    return Text(f"{int(value):,}" if whole else str(value))


def _print_shortfall(plan) -> None:
    """What the plan misses, by rule (never one sum across rules), and the first rows of shortfall.csv, in whole units."""
    st = plan.status
    head = _table("Shortfall by rule (whole units; rules are not added together)", ["rule", "side", "units"], right=["units"])
    if st.units_missing:
        head.add_row("yearly_targets", "short", f"{st.units_missing:,}")
    if st.units_excess:
        head.add_row("yearly_targets", "excess", f"{st.units_excess:,}")
    for rule, side, units in st.rules_short:
        head.add_row(Text(rule), side, f"{units:,}")
    _print_table(head)
    table = plan.shortfall_table()
    if len(table):
        cols = [c for c in table.columns if table[c].notna().any()]
        shown = _table(f"Where the plan falls short (first {min(len(table), SHORTFALL_ROWS)} of {len(table):,} rows of shortfall.csv)",
                       cols, right=["units", "year"])
        rows = list(table.head(SHORTFALL_ROWS).itertuples(index=False))
        for row in rows:
            shown.add_row(*(_cell(getattr(row, c), whole=c == "units") for c in cols))
        if _fits(shown):
            _print_table(shown)
        else:  # too wide to read as a grid on this console: one line per row, wrapped at words
            console.print(Text(shown.title, style="italic"))
            for row in rows:
                where = [str(getattr(row, c)) for c in cols if c not in ("rule", "side", "units", "binding_rules")
                         and _cell(getattr(row, c)).plain != "-"]
                binding = _cell(getattr(row, "binding_rules", None)).plain
                console.print(Text.assemble(("- ", "dim"), (f"{row.rule} {row.side} {_cell(row.units, whole=True)}", "bold"),
                                            f": {', '.join(where) or 'the whole plan'}",
                                            f"; binding: {binding}" if binding != "-" else ""))
    console.print("[yellow]Every shortfall row, with the rules that stop it shrinking, is in shortfall.csv[/yellow]")


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
    from .progress import RunProgress, progress_forced

    if lang not in ("zh", "en"):
        raise typer.BadParameter("use zh or en", param_hint="--lang")
    if tiles is not None and tiles.lower() not in ("none", "osm", "tianditu", "gaode"):
        raise typer.BadParameter(f"unknown map tiles {tiles!r}; use none, osm, tianditu or gaode", param_hint="--tiles")
    with _plain_errors():
        path = scenario if scenario is not None else find_demo_scenario()
        with RunProgress(err_console, force=progress_forced()) as live:
            def progress(msg: str) -> None:
                console.print(f"[green]\u2713[/green] {msg}" if msg.startswith("Wrote") else f"[bold]\u25b6[/bold] {msg}")
                live.step(msg)

            def on_check(report) -> None:
                _print_findings(report)
                if report.scenario is not None:
                    live.time_limit_s = report.scenario.solver.time_limit_s
            result = run_pipeline(path, out_dir=out, lang=lang, alternatives=alternatives, shapefile=shapefile,
                                  tiles=tiles, progress=progress, on_check=on_check)
    for table in _summary_tables(result):
        _print_table(table)
    _print_status(result.plan)
    comp = result.plan.compliance()
    table = _table("Compliance (compliance.csv)", ["rule", "required", "achieved", "binding", "shortfall"], right=["shortfall"])
    for row in comp.itertuples():
        mark = "" if row.ok else "[red]! [/red]"
        table.add_row(Text(row.rule), Text(str(row.required)), Text(str(row.achieved)), "yes" if row.binding else "no", f"{mark}{int(row.shortfall):,}")
    _print_table(table)
    if len(result.alternatives) > 1:
        objs = ", ".join(f"{p.report.objective:,.1f}" for p in result.alternatives)
        console.print(f"{len(result.alternatives)} alternative plans (objectives {objs}); see selection_frequency.csv")
        from .solve.alternatives import difference_table

        diff = difference_table(result.alternatives, differ=result.scenario.alternatives.differ)
        least = diff[["parcels_differ_a", "parcels_differ_b"]].min(axis=None)
        console.print(f"Every two plans differ in at least {least:.0%} of their movable parcels (new projects not locked in; "
                      f"asked {result.scenario.alternatives.differ:.0%}); see alternatives_difference.csv")
    if result.plan.status.code == "shortfall":
        _print_shortfall(result.plan)
    folder = next(iter(result.files.values())).parent
    console.print(f"Outputs in [bold]{folder}[/bold]: {', '.join(result.files)}")
    for message in result.output_warnings:  # every file is written; exit 1 as check does for warnings
        err_console.print(Text("warning: ", style="bold yellow") + Text(message), soft_wrap=True, highlight=False)
    if result.output_warnings:
        raise typer.Exit(1)


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
    console.print(Text(format_report(report, width=console.width)), soft_wrap=True, highlight=False)
    raise typer.Exit(report.exit_code)


@app.command("init")
def init(
    folder: Annotated[Path, typer.Argument(help="Folder of the bureau's files (shapefiles, GeoPackages, GeoJSON, GeoTIFF, target tables).")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Scenario file to write; default FOLDER/scenario.toml.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing scenario file.")] = False,
) -> None:
    """Read a folder of the bureau's files and write a commented scenario: every guess one line, TODOs to fill."""
    from .init import init_scenario

    with _plain_errors(interrupted="no scenario was written"):
        result = init_scenario(folder, out, force=force)
    shown = Table(title=f"Found in {folder}", width=min(console.width, 80))
    for col in ("file", "role", "features", "why"):
        shown.add_column(col, overflow="fold", justify="right" if col == "features" else "left")
    for f in result.found:
        role = f.role or ("table, not read" if f.geometry == "table" else "-")
        shown.add_row(Text(f.name), Text(role), f"{f.features:,}" if f.geometry != "table" else "",
                      Text(f.problem or f.why or f.geometry))
    console.print(shown)
    console.print(Text(f"Wrote {result.path}"))
    if result.todos:
        console.print(Text(f"Left to do (marked TODO in the file): {'; '.join(result.todos)}"), soft_wrap=True)
    console.print(Text(f"Review the lines marked review, then: siteplan check {result.path}"), soft_wrap=True)


@app.command("app")
def app_command(
    folder: Annotated[Optional[Path], typer.Argument(help="Folder of the bureau's files (and of the app's runs); default the current folder.")] = None,
    scenario: Annotated[Optional[Path], typer.Option("--scenario", help="Scenario file to open; default FOLDER/scenario.toml (the bundled demo in the project folder).")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; another than 127.0.0.1 shares the app on the intranet and needs the token printed at start.")] = "127.0.0.1",
    port: Annotated[Optional[int], typer.Option("--port", min=1, max=65535, help="Port; default a free one.")] = None,
    browser: Annotated[bool, typer.Option("--browser/--no-browser", help="Open the browser at start.")] = True,
    lang: Annotated[str, typer.Option("--lang", help="Language of the pages: zh or en.")] = "zh",
) -> None:
    """Start the app: the whole job in the browser, on this computer (Ctrl-C stops it; a solve under way goes on)."""
    _setup_logging(False)
    if lang not in ("zh", "en"):
        raise typer.BadParameter("use zh or en", param_hint="--lang")
    from .app.server import serve

    root = folder if folder is not None else Path.cwd()
    if not root.is_dir():
        _print_error(FileNotFoundError(f"{root}: no such folder; name the folder that holds your layers"))
        raise typer.Exit(2)
    if scenario is None and folder is None and not (root / "scenario.toml").is_file():
        from .pipeline import DEMO_SCENARIO

        if (root / DEMO_SCENARIO).is_file():
            scenario = root / DEMO_SCENARIO  # the project folder: open the demo
    with _plain_errors(interrupted="the app stopped; runs still solving go on and are found when it starts again"):
        serve(root, scenario=scenario, host=host, port=port, open_browser=browser, lang=lang,
              echo=lambda line: console.print(Text(line), soft_wrap=True, highlight=False))


@app.command("make-city")
def make_city(
    out: Annotated[Path, typer.Option("--out", help="Folder for the layers.")] = Path("layers"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2016,
    parcels: Annotated[int, typer.Option(help="Number of candidate parcels.")] = 3000,
    force: Annotated[bool, typer.Option("--force", help="Overwrite layers already in the folder (the bundled demo's, by default).")] = False,
) -> None:
    """Generate the synthetic demo city's layers; refuse to overwrite existing ones without --force."""
    from . import synth
    from .synth.city import existing_files, refusal

    found = existing_files(out)
    if found and not force:
        err_console.print(Text("error: ", style="bold red") + Text(refusal(out, found)), soft_wrap=True, highlight=False)
        raise typer.Exit(2)
    with _plain_errors(interrupted="the layers may be half written; run make-city again with --force"):
        city = synth.make_city(seed=seed, n_parcels=parcels)
        paths = synth.write_city(city, out)
    console.print(f"Wrote {len(paths)} layers to {out}")


@app.command("compare")
def compare(
    out_a: Annotated[Path, typer.Argument(help="Output folder of plan A (from siteplan run).")],
    out_b: Annotated[Path, typer.Argument(help="Output folder of plan B.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for the comparison; default compare-<A>-vs-<B> beside A.")] = None,
    lang: Annotated[str, typer.Option("--lang", help="Labels of compare.html: zh or en.")] = "zh",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")] = False,
) -> None:
    """Compare two runs: a side-by-side map and difference tables."""
    _setup_logging(verbose)
    if lang not in ("zh", "en"):
        raise typer.BadParameter("use zh or en", param_hint="--lang")
    from .outputs.compare import compare_runs, write_comparison

    with _plain_errors():
        a, b, tables = compare_runs(out_a, out_b)
        files = write_comparison(out_a, out_b, out, runs=(a, b, tables), lang=lang)
    counts = tables["parcels"]["change"].value_counts()
    heads = ["parcels only in A", "only in B", "in both", "of which changed"]
    summary = _table(f"A = {a.name}, B = {b.name}", heads, right=heads)
    changed = int(counts.drop(["A only", "B only", "same"], errors="ignore").sum())
    summary.add_row(*(f"{int(counts.get(k, 0)):,}" for k in ("A only", "B only")),
                    f"{int(len(tables['parcels']) - counts.get('A only', 0) - counts.get('B only', 0)):,}", f"{changed:,}")
    _print_table(summary)
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
    from .progress import VariantsProgress, progress_forced, switched_off
    from .sweep import FORK_ENV, parse_vary, run_sweep

    with _plain_errors(interrupted="finished variants keep their folders; sweep.csv was not written"):
        varies = [parse_vary(v) for v in vary]
        with VariantsProgress(err_console, what="variants", force=progress_forced()) as live:
            table, folder = run_sweep(scenario, varies, out_dir=out, scheduler=scheduler, workers=workers,
                                      progress=_say, finished=live, fork_workers=not switched_off(FORK_ENV))
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
    from .progress import VariantsProgress, progress_forced, switched_off
    from .sweep import FORK_ENV, run_batch

    with _plain_errors(interrupted="finished scenarios keep their folders; batch.csv was not written"):
        with VariantsProgress(err_console, what="scenarios", force=progress_forced()) as live:
            table, folder = run_batch(scenarios, out_dir=out, scheduler=scheduler, workers=workers,
                                      progress=_say, finished=live, fork_workers=not switched_off(FORK_ENV))
    shown = table.assign(scenario=[Path(p).name for p in table["scenario"]])  # the full paths are in batch.csv
    _show_runs(shown, f"Batch of {len(table)} scenario(s)", "scenario",
               outputs=f"Outputs in [bold]{folder}[/bold]: one folder per scenario and batch.csv")


def _say(msg: str) -> None:
    """A sweep's or batch's step line; a finished variant's with a tick."""
    console.print(Text.assemble(("\u2713 ", "green") if msg.startswith("Finished") else ("\u25b6 ", "bold"), msg))


def _show_runs(table, title: str, about: str, *, outputs: str) -> None:
    """Print a sweep's or batch's table (``about``: the column saying what each run is), the other rules each
    run falls short of, each error and the ``outputs`` line; exit 1 if a run failed.

    Each run is named by its output folder (a sweep's ``v01``; its plan name is in sweep.csv), and
    the columns are few enough to stay readable at 80 columns; a long cell folds onto more lines.
    """
    numbers = ["placed\nunits", "units\nmissing", "units\nexcess", "projects", "new land\nha"]  # headers as narrow as their figures
    shown = _table(title, ["folder", about, "status", *numbers], right=numbers)
    shown.columns[2].min_width = len("shortfall")
    short: list[tuple[str, str]] = []
    for row in table.itertuples():
        name = Path(row.folder).name if isinstance(row.folder, str) and row.folder else str(row.variant)
        cells = [name, str(getattr(row, about)), str(row.status)]
        if row.status == "error":
            cells += ["-"] * 5
        else:
            if row.time_limit_hit:
                cells[-1] += " (time limit hit)"
            if isinstance(row.shortfall_by_rule, str) and row.shortfall_by_rule:
                short.append((name, row.shortfall_by_rule))
            cells += [f"{int(row.placed_units):,}", f"{int(row.units_missing):,}", f"{int(row.units_excess):,}",
                      f"{int(row.projects):,}", f"{row.new_land_gross_ha:,.2f}"]
        shown.add_row(*(Text(c) for c in cells))
    _print_table(shown)
    for name, rules in short:
        console.print(Text(f"{name}: other rules short (whole units): {rules}"))
    for row in table.loc[table["status"] == "error"].itertuples():
        err_console.print(Text(f"{row.variant}: {row.error}"), soft_wrap=True)
    console.print(outputs)
    if (table["status"] == "error").any():
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - thin wrapper
    sys.exit(app())
