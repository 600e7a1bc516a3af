"""The catalog's apprentices, the works each learned from, and the jobs that used them.

A version number is taken inside the same write as the row that uses it, so two runs publishing at once
cannot both take one number.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from apprentice.store.catalog import Catalog, first_row, now


@dataclass(frozen=True)
class ApprenticeRow:
    """The catalog's facts about one published apprentice (the rest is in its manifest)."""

    id: str
    task: str
    manifest_sha256: str
    val_psnr: float | None
    val_ssim: float | None
    identity_psnr: float
    steps: int
    seconds: float
    created_at: str
    successor_of: str | None = None
    because: str | None = None


def add_apprentice(db: sqlite3.Connection, row: ApprenticeRow, works: set[str], version: int | None = None) -> int:
    """Name an apprentice and the works it learned from; its version is the task's next unless given. The version."""
    if version is None:
        version = next_version(db, row.task)
    db.execute(
        "INSERT INTO apprentices (id, task, version, manifest_sha256, val_psnr, val_ssim, identity_psnr, steps, "
        "seconds, created_at, successor_of, because) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (row.id, row.task, version, row.manifest_sha256, row.val_psnr, row.val_ssim, row.identity_psnr)
        + (row.steps, row.seconds, row.created_at, row.successor_of, row.because),
    )
    db.executemany(
        "INSERT OR IGNORE INTO apprentice_works (apprentice, work) VALUES (?, ?)", [(row.id, w) for w in sorted(works)]
    )
    return version


def next_version(db: sqlite3.Connection | Catalog, task: str) -> int:
    return first_row(db, "SELECT COALESCE(MAX(version), 0) + 1 AS next FROM apprentices WHERE task = ?", (task,))[
        "next"
    ]


def apprentice_ids(catalog: Catalog) -> set[str]:
    return {row["id"] for row in catalog.rows("SELECT id FROM apprentices")}


def has_apprentice(db: Catalog | sqlite3.Connection, apprentice: str) -> bool:
    return first_row(db, "SELECT 1 FROM apprentices WHERE id = ?", (apprentice,)) is not None


def apprentice_row(catalog: Catalog, task: str, id_prefix: str | None = None) -> sqlite3.Row | None:
    """The task's newest apprentice, or its newest whose id starts with `id_prefix`."""
    if id_prefix:
        sql, params = "SELECT * FROM apprentices WHERE task = ? AND id LIKE ?", (task, id_prefix + "%")
    else:
        sql, params = "SELECT * FROM apprentices WHERE task = ?", (task,)
    return catalog.row(sql + " ORDER BY version DESC", params)


def apprentice_rows(catalog: Catalog, task: str | None = None) -> list[dict]:
    """Catalog rows of the task's (or every task's) apprentices, newest first."""
    sql = "SELECT * FROM apprentices" + (" WHERE task = ?" if task else "") + " ORDER BY task, version DESC"
    return [dict(row) for row in catalog.rows(sql, (task,) if task else ())]


def apprentice_by_id(catalog: Catalog, apprentice: str) -> sqlite3.Row | None:
    """The catalog's row of the apprentice with exactly this id, or None when this workshop has no such apprentice."""
    return catalog.row("SELECT * FROM apprentices WHERE id = ?", (apprentice,))


def learned_from_with_consent(catalog: Catalog, apprentice: str, scope: str) -> list[str]:
    """The works this apprentice learned from whose consent is now `scope`."""
    rows = catalog.rows(
        "SELECT w.id FROM apprentice_works a JOIN works w ON w.id = a.work "
        "WHERE a.apprentice = ? AND w.consent = ? ORDER BY w.id",
        (apprentice, scope),
    )
    return [row["id"] for row in rows]


def add_job(db: sqlite3.Connection, apprentice: str, source: str, output: str) -> None:
    db.execute(
        "INSERT INTO jobs (apprentice, input, output, created_at) VALUES (?, ?, ?, ?)",
        (apprentice, source, output, now()),
    )
