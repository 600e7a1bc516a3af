"""A zip file read wholly in memory: member paths checked, bombs refused, members unpacked under size caps.

Nothing is ever written to disk.
"""

from __future__ import annotations

import io
import lzma
import zipfile
import zlib
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from apprentice.errors import BadInput

MIB = 1024 * 1024
MAX_UNPACKED_BYTES = 512 * MIB  # all members of one zip together, as declared and as actually unpacked
MAX_XML_BYTES = 16 * MIB
MAX_RATIO = 200  # a member may unpack to at most this many times its packed size …
RATIO_FLOOR = 4 * MIB  # … unless it unpacks to less than this
SPLIT = "scale it down or split it into several files"


class Archive:
    """A zip file held in memory, checked for path tricks and bombs, whose members unpack under caps."""

    def __init__(self, data: bytes, name: str, kind: str, fix: str):
        self.name, self.kind, self.fix = name, kind, fix
        if len(data) > MAX_UNPACKED_BYTES:
            raise BadInput(
                f"{name} is larger than the {MAX_UNPACKED_BYTES // MIB} MiB Apprentice reads safely; {SPLIT}."
            )
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise BadInput(f"{name} is damaged or not {kind} (it is not a complete zip archive); {fix}.") from None
        self._check_members()

    def _check_members(self) -> None:
        """Refuse unsafe member paths, absurd compression ratios and too much declared content."""
        total = 0
        for info in self.zip.infolist():
            if not _safe_member_name(info.filename):
                raise BadInput(f"{self.name} holds a file with an unsafe path ({info.filename!r}); {self.fix}.")
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise BadInput(
                    f"{self.name} holds {info.filename!r}, which claims to grow more than {MAX_RATIO}× "
                    f"when unpacked, as zip bombs do; {self.fix}."
                )
            total += info.file_size
        if total > MAX_UNPACKED_BYTES:
            raise BadInput(
                f"{self.name} unpacks to {total // MIB} MiB, more than the {MAX_UNPACKED_BYTES // MIB} MiB "
                f"Apprentice unpacks safely; {SPLIT}."
            )

    def has(self, member: str) -> bool:
        """Whether the archive holds `member`."""
        return member in self.zip.namelist()

    def read(self, member: str, limit: int = MAX_UNPACKED_BYTES) -> bytes:
        """Unpack `member` in memory, stopping as soon as it yields more than declared or than `limit`."""
        try:
            info = self.zip.getinfo(member)
        except KeyError:
            raise BadInput(f"{self.name} lacks {member!r}, so it is damaged or not {self.kind}; {self.fix}.") from None
        if info.file_size > limit:
            raise BadInput(f"{self.name} holds a {member!r} larger than Apprentice reads safely; {self.fix}.")
        return self._unpack(info)

    def _unpack(self, info: zipfile.ZipInfo) -> bytes:
        """The member's bytes, counted as they come out rather than trusted from its header."""
        chunks, total = [], 0
        try:
            with self.zip.open(info) as stream:
                while chunk := stream.read(MIB):
                    total += len(chunk)
                    if total > info.file_size:
                        raise BadInput(
                            f"{self.name} holds {info.filename!r}, which unpacks to more than its header "
                            f"says, as zip bombs do; {self.fix}."
                        )
                    chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, RuntimeError, NotImplementedError):
            raise BadInput(
                f"{self.name} is damaged or cut short ({info.filename!r} does not unpack); {self.fix}."
            ) from None
        return b"".join(chunks)

    def xml(self, member: str) -> Element:
        """Parse an XML member with defusedxml: entity declarations and external references are refused."""
        data = self.read(member, MAX_XML_BYTES)
        try:
            return fromstring(data)
        except DefusedXmlException:
            raise BadInput(
                f"{self.name} has a {member} that declares XML entities, which Apprentice refuses for safety; "
                f"{self.fix}."
            ) from None
        except ParseError as error:
            raise BadInput(f"{self.name} has a damaged {member} ({error}); {self.fix}.") from None

    def integer(self, element: Element, attribute: str, member: str, default: str | None = None) -> int:
        """An integer attribute of an XML element, or BadInput naming the member it came from."""
        value = element.get(attribute, default)
        try:
            return int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise BadInput(
                f"{self.name} has a damaged {member} ({attribute}={value!r} is not a whole number); {self.fix}."
            ) from None


def _safe_member_name(name: str) -> bool:
    """Whether a zip member's path stays inside the archive: relative, forward slashes, no `..`, no drive."""
    parts = name.split("/")
    return bool(name) and not (name.startswith("/") or "\\" in name or "\0" in name or ".." in parts or ":" in parts[0])


def local_name(tag: str) -> str:
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]
