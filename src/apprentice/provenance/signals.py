"""Machine-readable refusals of AI training a file carries: IPTC Data Mining, TDM-Rep and C2PA training-mining.

A byte-level scan of XMP packets and C2PA/CAWG assertions: it reads what a file declares, it checks no signature.
"""

from __future__ import annotations

import io
import lzma
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from apprentice.formats.archive import MAX_MEMBERS, declared_members

IPTC, TDMREP, C2PA = "IPTC Data Mining", "TDM-Rep", "C2PA training-mining"
MIB = 1024 * 1024
MAX_METADATA_BYTES = 16 * MIB  # unpacked from a zip's members, or inflated from PNG text chunks, per file
MAX_HITS = 256  # occurrences of any one marker looked at; real files carry one or two
C2PA_WINDOW = 64 * 1024  # bytes after a training-mining label searched for its entries

XMP_START, XMP_END = b"<x:xmpmeta", b"</x:xmpmeta>"
XMP_NAMESPACES = (b"ns.useplus.org/ldf/xmp/", b"www.w3.org/ns/tdmrep")  # a packet naming neither is not parsed
PLUS = "{http://ns.useplus.org/ldf/xmp/1.0/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
TDM = ("{http://www.w3.org/ns/tdmrep/}", "{http://www.w3.org/ns/tdmrep#}")
XMP_PROPERTIES = {  # name → label; both TDM-Rep namespaces share a label
    PLUS + "DataMining": "DataMining",
    PLUS + "OtherConstraints": "OtherConstraints",
    **{namespace + "reservation": "reservation" for namespace in TDM},
    **{namespace + "policy": "policy" for namespace in TDM},
}
MAX_QUOTED = 1000  # characters of plus:OtherConstraints quoted in a see-property reservation
PROHIBITED = frozenset(
    {
        "DMI-PROHIBITED",
        "DMI-PROHIBITED-AIMLTRAINING",
        "DMI-PROHIBITED-GENAIMLTRAINING",
        "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING",
        "DMI-PROHIBITED-SEEPROPERTY",
    }
)
SEE_PROPERTY = "DMI-PROHIBITED-SEEPROPERTY"
C2PA_LABELS = (b"c2pa.training-mining", b"cawg.training-mining")
C2PA_USES = ("ai_training", "ai_generative_training", "data_mining", "ai_inference")
C2PA_ENTRIES = tuple(f"{prefix}.{use}".encode() for prefix, use in product(("c2pa", "cawg"), C2PA_USES))
C2PA_VALUES = frozenset({"allowed", "notAllowed", "constrained"})
JSON_USE = re.compile(rb'\s*:\s*"([^"]{0,32})"')

PNG_SIGNATURE, JPEG_SIGNATURE, ZIP_SIGNATURE = b"\x89PNG\r\n\x1a\n", b"\xff\xd8", b"PK\x03\x04"
PNG_RAW_PROFILE = b"Raw profile type xmp"  # ImageMagick's hex-encoded XMP
PNG_XMP_KEYWORDS = (b"XML:com.adobe.xmp", PNG_RAW_PROFILE)
PNG_XMP_MARKERS = tuple(kind + key + b"\0" for kind, key in product((b"iTXt", b"zTXt", b"tEXt"), PNG_XMP_KEYWORDS))
JPEG_EXTENDED_XMP = b"http://ns.adobe.com/xmp/extension/\0"

XML_ERRORS = (ParseError, DefusedXmlException, ValueError, LookupError)
# RuntimeError: an encrypted member or an unknown compression method
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, RuntimeError, ValueError)


@dataclass(frozen=True)
class Reservation:
    """One machine-readable refusal of AI training or text-and-data mining, as the file states it."""

    standard: str  # "IPTC Data Mining", "TDM-Rep" or "C2PA training-mining"
    detail: str  # the value found, e.g. "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"


def training_reservations(data: bytes) -> list[Reservation]:
    """Every machine-readable 'do not use for AI training / text-and-data mining' signal the file's bytes carry.

    XMP packets are looked for anywhere in the bytes, in PNG text chunks (inflated), in JPEG extended XMP and in
    the metadata members of a zip (.kra, .ora). A damaged packet counts as no refusal. C2PA signatures are not
    checked: a refusal is honoured whoever wrote it.
    """
    found = _scan(data)
    if data.startswith(PNG_SIGNATURE):
        found += [reservation for text in _png_xmp_texts(data) for reservation in _scan(text)]
    if data.startswith(JPEG_SIGNATURE):
        found += [reservation for packet in _jpeg_extended_xmp(data) for reservation in _scan(packet)]
    if data.startswith(ZIP_SIGNATURE):
        found += [reservation for member in _zip_metadata(data) for reservation in _scan(member, whole=True)]
    return list(dict.fromkeys(found))


def _scan(data: bytes, whole: bool = False) -> list[Reservation]:
    """Reservations in the XMP packets and C2PA assertions lying anywhere in `data` (also `data` as XML if `whole`)."""
    packets = [*_xmp_packets(data), data] if whole else list(_xmp_packets(data))
    roots = [_parse(packet) for packet in packets if any(namespace in packet for namespace in XMP_NAMESPACES)]
    found = [reservation for root in roots if root is not None for reservation in _xmp_reservations(root)]
    return found + _c2pa_reservations(data)


def _occurrences(data: bytes, needle: bytes, start: int = 0, end: int | None = None) -> Iterator[int]:
    """Where `needle` starts in data[start:end], at most MAX_HITS times."""
    end = len(data) if end is None else end
    at = data.find(needle, start, end)
    for _ in range(MAX_HITS):
        if at < 0:
            return
        yield at
        at = data.find(needle, at + 1, end)


# XMP: IPTC PLUS Data Mining and TDM-Rep


def _xmp_packets(data: bytes) -> Iterator[bytes]:
    """Each `<x:xmpmeta …>…</x:xmpmeta>` span, found with bytes.find so the scan stays linear in the file's size."""
    start = data.find(XMP_START)
    for _ in range(MAX_HITS):
        end = data.find(XMP_END, start) if start >= 0 else -1
        if end < 0:
            return
        yield data[data.rfind(XMP_START, start, end) : end + len(XMP_END)]  # the innermost start: skip stray ones
        start = data.find(XMP_START, end)


def _parse(xml: bytes) -> Element | None:
    """The XML parsed by defusedxml (no entities, no external references), or None when it is damaged."""
    try:
        return fromstring(xml)
    except XML_ERRORS:
        return None


def _xmp_reservations(root: Element) -> list[Reservation]:
    properties = _xmp_properties(root)
    return _iptc_reservations(properties) + _tdm_reservations(properties)


def _xmp_properties(root: Element) -> dict[str, list[str]]:
    """The values of every XMP property read here, by its label, gathered in one walk of the tree.

    A value counts however it is written: attribute, element text, rdf:resource, or inside rdf:li/rdf:value. A
    property nested inside the same property is read once, as part of the outer one, so the walk stays linear.
    """
    found: dict[str, list[str]] = {label: [] for label in XMP_PROPERTIES.values()}
    stack: list[tuple[Element, frozenset[str]]] = [(root, frozenset())]
    while stack:
        element, inside = stack.pop()
        for name, label in XMP_PROPERTIES.items():
            found[label].append(element.get(name, ""))
        label = XMP_PROPERTIES.get(element.tag) if isinstance(element.tag, str) else None
        inside = inside | {label} if label else inside
        for each in inside:
            found[each] += [element.text or "", element.get(RDF + "resource", ""), element.get(RDF + "value", "")]
        stack += [(child, inside) for child in reversed(element)]
    return {label: [value.strip() for value in values if value.strip()] for label, values in found.items()}


def _iptc_reservations(properties: dict[str, list[str]]) -> list[Reservation]:
    """plus:DataMining values of the PLUS vocabulary that prohibit data mining or AI/ML training."""
    found, others = [], _quoted("; ".join(properties["OtherConstraints"]))
    for value in dict.fromkeys(properties["DataMining"]):
        term = value.rstrip("/").rsplit("/", 1)[-1].upper()
        if term == SEE_PROPERTY and others:
            found.append(Reservation(IPTC, f"{value} ({others})"))
        elif term in PROHIBITED:
            found.append(Reservation(IPTC, value))
        if len(found) == MAX_HITS:
            break
    return found


def _quoted(text: str) -> str:
    """`text` cut to MAX_QUOTED characters, so that each reservation quoting it stays short."""
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 1] + "…"


def _tdm_reservations(properties: dict[str, list[str]]) -> list[Reservation]:
    """tdm:reservation = 1, with the first tdm:policy named in the detail."""
    if "1" not in properties["reservation"]:
        return []
    policies = properties["policy"]
    return [Reservation(TDMREP, f"reservation=1, policy={policies[0]}" if policies else "reservation=1")]


# C2PA / CAWG training-mining assertions


def _c2pa_reservations(data: bytes) -> list[Reservation]:
    """Training-mining entries whose `use` is notAllowed: a byte-level scan of the JUMBF, not a signature check."""
    found = []
    for label in C2PA_LABELS:
        for start, end in _assertion_spans(data, label):
            for entry, use in _entry_uses(data, start, end):
                if use == "notAllowed":
                    found.append(Reservation(C2PA, f"{label.decode()}: {entry.decode()}={use}"))
    return found


def _assertion_spans(data: bytes, label: bytes) -> Iterator[tuple[int, int]]:
    """From each `label` to the next JUMBF description box (the next assertion) or C2PA_WINDOW bytes on."""
    start = data.find(label)
    for _ in range(MAX_HITS):
        if start < 0:
            return
        start += len(label)
        limit = min(len(data), start + C2PA_WINDOW)
        end = data.find(b"jumd", start, limit)
        end = limit if end < 0 else end
        yield start, end
        start = data.find(label, end)


def _entry_uses(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, str]]:
    """Each known entry name in data[start:end] with the `use` written after it, before the next entry."""
    hits = sorted((at, entry) for entry in C2PA_ENTRIES for at in _occurrences(data, entry, start, end))
    stops = [at for at, _ in hits[1:]] + [end]
    for (at, entry), stop in zip(hits, stops, strict=True):
        yield entry, _use_value(data, at + len(entry), stop)


def _use_value(data: bytes, start: int, end: int) -> str:
    """The value of the first `use` key in data[start:end], CBOR-encoded (text header 0x60 + length) or JSON."""
    for at in _occurrences(data, b"\x63use", start, end - 5):  # CBOR text "use", then a short text string
        value = data[at + 5 : at + 5 + data[at + 4] - 0x60] if 0x60 <= data[at + 4] < 0x78 else b""
        if value.decode("ascii", "replace") in C2PA_VALUES:
            return value.decode("ascii")
    at = data.find(b'"use"', start, end)
    match = JSON_USE.match(data, at + 5, min(end, at + 64)) if at >= 0 else None
    return match.group(1).decode("ascii", "replace") if match else ""


# Containers: PNG text chunks, JPEG extended XMP, zip members


def _png_xmp_texts(data: bytes) -> Iterator[bytes]:
    """The XMP held by PNG iTXt/zTXt/tEXt chunks, inflated; at most MAX_METADATA_BYTES are looked at in all."""
    budget = MAX_METADATA_BYTES
    for marker in PNG_XMP_MARKERS:
        for at in _occurrences(data, marker, 4):
            if budget <= 0:
                return
            length = min(int.from_bytes(data[at - 4 : at], "big"), budget)
            kind, body = marker[:4], data[at + len(marker) : at + 4 + length]
            text = _png_text(kind, body, budget)
            budget -= max(len(body), len(text))
            yield _unhex_raw_profile(text) if PNG_RAW_PROFILE in marker else text


def _png_text(kind: bytes, body: bytes, limit: int) -> bytes:
    """A text chunk's text after its keyword: iTXt skips language and translated keyword; z-compressed is inflated."""
    if kind == b"tEXt":
        return body[:limit]
    if kind == b"zTXt":
        return _inflate(body[1:], limit)
    fields = body[2:].split(b"\0", 2)  # after the compression flag and method: language, translated keyword, text
    text = fields[2] if len(fields) == 3 else b""
    return _inflate(text, limit) if body[:1] == b"\x01" else text[:limit]


def _inflate(data: bytes, limit: int) -> bytes:
    """zlib data inflated to at most `limit` bytes (so a bomb stops there), or nothing when damaged."""
    try:
        return zlib.decompressobj().decompress(data, max(limit, 1))
    except zlib.error:
        return b""


def _unhex_raw_profile(text: bytes) -> bytes:
    """ImageMagick's 'Raw profile type xmp': a name line, a length line, then the packet in hexadecimal."""
    fields = text.split(None, 2)
    try:
        return bytes.fromhex(fields[2].decode("ascii")) if len(fields) == 3 else b""
    except (ValueError, UnicodeDecodeError):
        return b""


def _jpeg_extended_xmp(data: bytes) -> list[bytes]:
    """Extended XMP, split over JPEG APP1 segments after a 32-byte GUID, length and offset, joined per GUID."""
    parts: dict[bytes, list[tuple[int, bytes]]] = {}
    for at in _occurrences(data, JPEG_EXTENDED_XMP, 4):
        if data[at - 4 : at - 2] == b"\xff\xe1":
            end, head = at - 2 + int.from_bytes(data[at - 2 : at], "big"), at + len(JPEG_EXTENDED_XMP)
            offset = int.from_bytes(data[head + 36 : head + 40], "big")
            parts.setdefault(data[head : head + 32], []).append((offset, data[head + 40 : end]))
    return [b"".join(chunk for _, chunk in sorted(chunks)) for chunks in parts.values()]


def _zip_metadata(data: bytes) -> Iterator[bytes]:
    """The *.xmp, *.xml and *metadata* members of a zip, unpacked in memory, at most MAX_METADATA_BYTES in all.

    A zip listing more than MAX_MEMBERS is not opened: reading it as a layered file refuses it in a sentence.
    """
    if declared_members(data) > MAX_MEMBERS:
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except ZIP_ERRORS:
        return
    budget, members = MAX_METADATA_BYTES, [info for info in archive.infolist() if _is_metadata(info.filename)]
    for info in members[:MAX_HITS]:
        if budget <= 0:
            return
        member = _read_member(archive, info, budget)
        budget -= len(member)
        yield member


def _is_metadata(member: str) -> bool:
    name = member.rsplit("/", 1)[-1].lower()
    return name.endswith((".xmp", ".xml")) or "metadata" in name


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """At most `limit` bytes of a member, unpacked in memory; nothing when it does not unpack."""
    try:
        with archive.open(info) as stream:
            return stream.read(limit)
    except ZIP_ERRORS:
        return b""
