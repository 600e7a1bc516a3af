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
MAX_MEMBERS = 20_000  # files inside one zip; a Krita file keeps two or three per layer (and per animated frame)
MAX_DIRECTORY_BYTES = 16 * MIB  # the zip's list of its members; real files with MAX_MEMBERS need a fraction
DIRECTORY_ENTRY = 46  # bytes of a central directory entry before its name: the least each member costs there
END_RECORD, ZIP64_LOCATOR, ZIP64_END_RECORD = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06"
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
        self._check_member_count(declared_members(data))
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise BadInput(f"{name} is damaged or not {kind} (it is not a complete zip archive); {fix}.") from None
        self._check_member_count(len(self.zip.infolist()))  # the end record may have understated it
        self._check_members()

    def _check_member_count(self, count: int) -> None:
        if count > MAX_MEMBERS:
            raise BadInput(
                f"{self.name} is a zip of {count:,} files, more than the {MAX_MEMBERS:,} Apprentice opens; "
                f"merge or remove layers, then {self.fix}."
            )

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
        """Whether the archive holds `member` (a lookup, not a walk through every member's name)."""
        try:
            self.zip.getinfo(member)
        except KeyError:
            return False
        return True

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


def declared_members(data: bytes) -> int:
    """How many members a zip's end record says it has, read before its central directory is parsed.

    zipfile reads the whole directory whatever the count says, so a directory larger than MAX_DIRECTORY_BYTES
    counts as the most members it has room for; 0 when there is no end record (zipfile then refuses the file).
    """
    at = data.rfind(END_RECORD, max(0, len(data) - 22 - 0xFFFF))
    if at < 0 or len(data) < at + 22:
        return 0
    count, size = int.from_bytes(data[at + 10 : at + 12], "little"), int.from_bytes(data[at + 12 : at + 16], "little")
    locator = at - 20
    if locator >= 0 and data[locator : locator + 4] == ZIP64_LOCATOR:
        record = int.from_bytes(data[locator + 8 : locator + 16], "little")
        if data[record : record + 4] == ZIP64_END_RECORD:
            count = int.from_bytes(data[record + 32 : record + 40], "little")
            size = int.from_bytes(data[record + 40 : record + 48], "little")
    return max(count, min(size, len(data)) // DIRECTORY_ENTRY) if size > MAX_DIRECTORY_BYTES else count


def _safe_member_name(name: str) -> bool:
    """Whether a zip member's path stays inside the archive: relative, forward slashes, no `..`, no drive."""
    parts = name.split("/")
    return bool(name) and not (name.startswith("/") or "\\" in name or "\0" in name or ".." in parts or ":" in parts[0])


def local_name(tag: str) -> str:
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]
