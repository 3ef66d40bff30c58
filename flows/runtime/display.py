"""What ``bluecarbon run`` shows in the terminal: a progress bar per run, a summary table after."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from aoi import Site
from flows.config import RunConfig
from flows.results.store import read_table
from flows.runtime import progress

__all__ = ["PIPE_WIDTH", "RunDisplay", "make_console", "show_logs"]

PIPE_WIDTH = 200
"""Columns given to the results table when the output is not a terminal (a pipe, a log file
under cron or systemd): rich would otherwise assume 80 and wrap every longer line."""


def make_console(*, stderr: bool = False) -> Console:
    """A terminal's console as rich sets it up; anything else never wraps a line (a failure
    reason stays one line a log reader can grep) and lays tables out on :data:`PIPE_WIDTH`
    columns, unless ``COLUMNS`` says otherwise."""
    console = Console(stderr=stderr)
    if console.is_terminal:
        return console
    width = None if os.environ.get("COLUMNS", "").isdigit() else PIPE_WIDTH
    return Console(stderr=stderr, soft_wrap=True, width=width)


class RunDisplay:
    """Rich progress for a monitoring run, fed by :mod:`flows.runtime.progress` events."""

    def __init__(self, sites: list[Site], config: RunConfig, console: Console | None = None,
                 *, starting: str = "starting Prefect (ephemeral API)"):
        self.sites, self.config = sites, config
        self.console = console or make_console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=self.console, transient=False,
        )
        self.task = self.progress.add_task(starting, total=len(sites))
        self.run_id: str | None = None

    def __enter__(self) -> RunDisplay:
        progress.set_hook(self._on_event)
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()
        progress.set_hook(None)

    def _on_event(self, event: str, **f: Any) -> None:
        p, task = self.progress, self.task
        if event == "run_started":
            self.run_id = f["run_id"]
            p.update(task, description=f"run {f['run_id'][:8]}: {f['n_sites']} sites")
        elif event == "waiting":
            p.console.print(f"[yellow]wait[/]   {escape(f['message'])}")
            p.update(task, description="waiting for the other run")
        elif event == "site_started":
            p.update(task, description=f"{f['site_id']}: searching scenes")
        elif event == "site_searched":
            p.update(task, description=f"{f['site_id']}: {f['n_scenes']} scenes -> indices, change")
        elif event == "site_done":
            failed = (f", [yellow]{f['failed_scenes']} scenes not fetched[/]"
                      if f.get("failed_scenes") else "")
            p.console.print(f"[green]done[/]   {f['site_id']}: {f['n_scenes']} scenes, "
                            f"{f.get('observations', 0)} observations, "
                            f"{f.get('change', 0)} months{failed}")
            p.advance(task)
        elif event == "site_skipped":
            p.console.print(f"[dim]skip[/]   {f['site_id']}: no new scenes ({f['n_scenes']} found, "
                            "all stored)")
            p.advance(task)
        elif event == "site_not_tried":  # the source is unreachable: said once, at the end
            p.advance(task)
        elif event == "site_failed":
            # messages carry text from servers and exceptions: never markup ("[/]" would
            # raise inside the flow, "[link=...]" would make a link)
            p.console.print(f"[red]failed[/] {escape(f['site_id'])}: {escape(f['error'])}")
            p.advance(task)

    def finish(self, seconds: float | None = None, failed: str | None = None) -> None:
        out = self.config.out
        table = Table(title=f"bluecarbon results in {escape(str(out))}/ (latest month per site)")
        for col in ("site", "habitat", "month", "seen %", "baseline ha", "extent ha",
                    "interval ha", "gain ha", "loss ha"):
            table.add_column(col, justify="left" if col in ("site", "habitat") else "right")
        unreadable: dict[str, str] = {}  # one broken partition must not hide the others
        for site in self.sites:  # the run's sites only, one partition at a time: not every
            # site the store holds (a store of many sites' months would all be in memory)
            rows = read_table(out, "change", site.id, unreadable=unreadable)
            if site.id in unreadable:
                table.add_row(site.id, site.habitat, "unreadable", "-", "-", "-", "-", "-", "-")
                continue
            if rows.empty:
                table.add_row(site.id, site.habitat, "-", "-", "-", "-", "-", "-", "-")
                continue
            last = rows.sort_values("period").iloc[-1]
            table.add_row(
                site.id, site.habitat, pd.Timestamp(last["period"]).strftime("%Y-%m"),
                f"{100 * last['valid_fraction']:.0f}", f"{last['baseline_extent_ha']:.1f}",
                f"{last['extent_ha']:.1f}",
                f"{last['extent_ci_low_ha']:.1f}-{last['extent_ci_high_ha']:.1f}",
                f"{last['gain_ha']:.1f}", f"{last['loss_ha']:.1f}",
            )
        make_console().print(table)
        if failed:
            self.console.print(f"[red]bluecarbon: {escape(failed)}[/]")
        elif seconds is not None:
            where = escape(str(out))
            self.console.print(f"finished in {seconds:.1f} s; tables: {where}/observations, "
                               f"{where}/change")


class _StderrNow(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is when a record comes: the progress
    display's redirection while it runs (lines above the bar), the terminal after."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def show_logs(verbose: bool) -> None:
    """The log lines of a run without Prefect on stderr: warnings and errors (a failed scene,
    a site's failure, a wait for another run), and with ``verbose`` every step's lines too."""
    root = logging.getLogger()
    if any(isinstance(h, _StderrNow) for h in root.handlers):
        return
    handler = _StderrNow()
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d | %(levelname)-7s | "
                                           "%(name)s - %(message)s", "%H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
