"""Uploaded files on their way to the core: saved under safe names in a temporary folder that is gone afterwards.

Errors the core raises about them name the files as the user named them, without the temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import UploadFile

from apprentice.errors import ApprenticeError, BadInput

MAX_NAME_BYTES = 200


def safe_name(filename: str | None) -> str:
    """The upload's base name with anything but letters, digits, spaces and . - _ ( ) + replaced by _."""
    base = re.split(r"[\\/]", filename or "")[-1]
    name = re.sub(r"[^\w.\- ()+]", "_", base).lstrip(". ")
    if not name:
        raise BadInput(f"An uploaded file has no usable name ('{filename}'); rename it and upload it again.")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise BadInput(f"{name[:40]}… has a name longer than {MAX_NAME_BYTES} bytes; rename it and upload it again.")
    return name


def save(upload: UploadFile, folder: Path) -> Path:
    path = folder / safe_name(upload.filename)
    if path.exists():
        raise BadInput(f"Two uploaded files are both called {path.name}; rename one and upload them again.")
    with path.open("wb") as file:
        shutil.copyfileobj(upload.file, file)
    return path


@contextmanager
def saved(uploads: list[UploadFile]) -> Iterator[list[Path]]:
    """The uploads as files in a temporary folder, for as long as the block runs."""
    with tempfile.TemporaryDirectory(prefix="apprentice-upload-") as folder:
        paths = [save(upload, Path(folder)) for upload in uploads]
        try:
            yield paths
        except ApprenticeError as error:
            raise type(error)(without_folder(str(error), Path(folder))) from None


def without_folder(text: str, folder: Path) -> str:
    """`text` with the temporary folder taken out of the paths it names."""
    return text.replace(f"{folder}{os.sep}", "").replace(str(folder), "the upload")
