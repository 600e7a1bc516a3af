"""Refusals of AI training found in files' bytes: IPTC Data Mining and TDM-Rep in XMP, C2PA training-mining.

Every file is built in code: Pillow for PNG and JPEG, hand-made chunks, segments and JUMBF boxes, zipfile for .ora/.kra.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from apprentice.provenance import signals
from apprentice.provenance.signals import PNG_SIGNATURE, XMP_END, XMP_START, Reservation, training_reservations

VOCAB = "http://ns.useplus.org/ldf/vocab/"
AIML = VOCAB + "DMI-PROHIBITED-AIMLTRAINING"
NAMESPACES = (
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
    'xmlns:tdm="http://www.w3.org/ns/tdmrep/"'
)


def xmp(properties: str = "", attributes: str = "", namespaces: str = NAMESPACES) -> bytes:
    """A complete XMP packet with one rdf:Description holding `properties` (elements) and `attributes`."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" {namespaces} {attributes}>{properties}</rdf:Description>'
        '</rdf:RDF></x:xmpmeta>\n<?xpacket end="w"?>'
    ).encode()


def png(packet: bytes | None = None, compressed: bool = False) -> bytes:
    info = PngInfo()
    if packet is not None:
        info.add_itxt("XML:com.adobe.xmp", packet.decode(), zip=compressed)
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, "PNG", pnginfo=info)
    return out.getvalue()


def with_png_chunk(data: bytes, kind: bytes, body: bytes) -> bytes:
    """`data` (a PNG) with one more chunk just before IEND."""
    chunk = struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return data[:-12] + chunk + data[-12:]


def jpeg(packet: bytes | None = None) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, "JPEG", **({"xmp": packet} if packet else {}))
    return out.getvalue()


def cbor(value: str | dict) -> bytes:
    """Just enough CBOR for an assertion: text strings and maps."""
    if isinstance(value, str):
        return _cbor_head(3, len(value.encode())) + value.encode()
    return _cbor_head(5, len(value)) + b"".join(cbor(key) + cbor(item) for key, item in value.items())


def _cbor_head(major: int, length: int) -> bytes:
    return bytes([major << 5 | length]) if length < 24 else bytes([major << 5 | 24, length])


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def superbox(label: str, *content: bytes) -> bytes:
    """A JUMBF superbox: a description box carrying `label`, then the content boxes."""
    description = box(b"jumd", bytes(16) + b"\x03" + label.encode() + b"\0")
    return box(b"jumb", description + b"".join(content))


def c2pa_store(label: str, entries: dict[str, str]) -> bytes:
    """A C2PA manifest store whose assertions are a training-mining one (CBOR) and a data hash after it."""
    training = superbox(label, box(b"cbor", cbor({"entries": {name: {"use": use} for name, use in entries.items()}})))
    data_hash = superbox("c2pa.hash.data", box(b"cbor", cbor({"name": "jumbf manifest", "alg": "sha256"})))
    assertions = superbox("c2pa.assertions", training, data_hash)
    return superbox("c2pa", superbox("urn:uuid:00000000-0000-0000-0000-000000000000", assertions))


def zip_file(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            method = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, content, compress_type=method)
    return out.getvalue()


@pytest.mark.parametrize(
    "properties, attributes",
    [
        (f"<plus:DataMining>{AIML}</plus:DataMining>", ""),
        ("", f'plus:DataMining="{AIML}"'),
        (f'<plus:DataMining rdf:resource="{AIML}"/>', ""),
    ],
    ids=["element", "attribute", "resource"],
)
def test_png_itxt_xmp_prohibiting_aiml_training_is_a_reservation(properties: str, attributes: str) -> None:
    assert training_reservations(png(xmp(properties, attributes))) == [Reservation("IPTC Data Mining", AIML)]


def test_compressed_png_itxt_xmp_is_inflated_and_read() -> None:
    data = png(xmp(f"<plus:DataMining>{AIML}</plus:DataMining>"), compressed=True)
    assert b"DataMining" not in data
    assert training_reservations(data) == [Reservation("IPTC Data Mining", AIML)]


@pytest.mark.parametrize(
    "term", ["DMI-PROHIBITED", "DMI-PROHIBITED-GENAIMLTRAINING", "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING"]
)
def test_every_prohibiting_term_counts_with_or_without_the_vocabulary_prefix(term: str) -> None:
    for value in (term, VOCAB + term):
        assert training_reservations(png(xmp(f"<plus:DataMining>{value}</plus:DataMining>"))) == [
            Reservation("IPTC Data Mining", value)
        ]


def test_see_property_reports_the_other_constraints_text() -> None:
    properties = (
        f"<plus:DataMining>{VOCAB}DMI-PROHIBITED-SEEPROPERTY</plus:DataMining>"
        '<plus:OtherConstraints><rdf:Alt><rdf:li xml:lang="x-default">No AI training without a licence</rdf:li>'
        "</rdf:Alt></plus:OtherConstraints>"
    )
    [reservation] = training_reservations(png(xmp(properties)))
    assert reservation.detail == f"{VOCAB}DMI-PROHIBITED-SEEPROPERTY (No AI training without a licence)"


@pytest.mark.parametrize("term", ["DMI-ALLOWED", "DMI-UNSPECIFIED"])
def test_data_mining_allowed_or_unspecified_is_no_reservation(term: str) -> None:
    assert training_reservations(png(xmp(f"<plus:DataMining>{VOCAB}{term}</plus:DataMining>"))) == []


def test_xmp_is_matched_by_namespace_not_by_prefix() -> None:
    renamed = NAMESPACES.replace("xmlns:plus=", "xmlns:p=")
    assert training_reservations(png(xmp(f"<p:DataMining>{AIML}</p:DataMining>", namespaces=renamed)))
    foreign = NAMESPACES.replace("http://ns.useplus.org/ldf/xmp/1.0/", "http://example.org/not-plus/")
    assert training_reservations(png(xmp(f"<plus:DataMining>{AIML}</plus:DataMining>", namespaces=foreign))) == []


def test_jpeg_app1_xmp_is_read() -> None:
    data = jpeg(xmp(attributes=f'plus:DataMining="{AIML}"'))
    assert b"\xff\xe1" in data[:64]
    assert training_reservations(data) == [Reservation("IPTC Data Mining", AIML)]


def test_jpeg_extended_xmp_split_over_app1_segments_is_reassembled() -> None:
    packet = xmp(f"<plus:DataMining>{AIML}</plus:DataMining>")
    halves = [(0, packet[:100]), (100, packet[100:])]
    header = b"http://ns.adobe.com/xmp/extension/\0" + b"0" * 32 + struct.pack(">I", len(packet))
    segments = b"".join(
        b"\xff\xe1" + struct.pack(">H", 2 + len(header) + 4 + len(part)) + header + struct.pack(">I", at) + part
        for at, part in reversed(halves)
    )
    plain = jpeg()
    assert training_reservations(plain[:2] + segments + plain[2:]) == [Reservation("IPTC Data Mining", AIML)]


def test_tdm_reservation_one_is_reported_with_its_policy() -> None:
    policy = "https://example.org/tdm-policy.json"
    properties = f"<tdm:reservation>1</tdm:reservation><tdm:policy>{policy}</tdm:policy>"
    assert training_reservations(png(xmp(properties))) == [Reservation("TDM-Rep", f"reservation=1, policy={policy}")]
    assert training_reservations(png(xmp(attributes='tdm:reservation="1"'))) == [
        Reservation("TDM-Rep", "reservation=1")
    ]


def test_tdm_reservation_zero_is_no_reservation() -> None:
    properties = "<tdm:reservation>0</tdm:reservation><tdm:policy>https://example.org/p.json</tdm:policy>"
    assert training_reservations(png(xmp(properties))) == []


@pytest.mark.parametrize("prefix", ["c2pa", "cawg"])
def test_c2pa_training_mining_not_allowed_is_a_reservation(prefix: str) -> None:
    entries = {f"{prefix}.ai_training": "notAllowed", f"{prefix}.data_mining": "allowed"}
    data = with_png_chunk(png(), b"caBX", c2pa_store(f"{prefix}.training-mining", entries))
    assert training_reservations(data) == [
        Reservation("C2PA training-mining", f"{prefix}.training-mining: {prefix}.ai_training=notAllowed")
    ]


@pytest.mark.parametrize("use", ["allowed", "constrained"])
def test_c2pa_training_mining_allowed_or_constrained_is_no_reservation(use: str) -> None:
    entries = {name: use for name in ("c2pa.ai_training", "c2pa.ai_generative_training", "c2pa.data_mining")}
    assert training_reservations(with_png_chunk(png(), b"caBX", c2pa_store("c2pa.training-mining", entries))) == []


def test_c2pa_use_is_found_after_a_constraint_text_that_mentions_use() -> None:
    entry = {"constraint_info": "excuse me: use only with a licence", "use": "notAllowed"}
    assertion = superbox("c2pa.training-mining", box(b"cbor", cbor({"entries": {"c2pa.ai_training": entry}})))
    assert training_reservations(png() + superbox("c2pa", assertion)) == [
        Reservation("C2PA training-mining", "c2pa.training-mining: c2pa.ai_training=notAllowed")
    ]


def test_c2pa_assertion_written_as_json_is_read() -> None:
    assertion = b'{"entries": {"cawg.ai_generative_training": {"use" : "notAllowed"}}}'
    store = superbox("c2pa", superbox("cawg.training-mining", box(b"json", assertion)))
    assert training_reservations(jpeg() + store) == [
        Reservation("C2PA training-mining", "cawg.training-mining: cawg.ai_generative_training=notAllowed")
    ]


@pytest.mark.parametrize("member", ["metadata.xmp", "Thumbnails/metadata", "data/info.xml"])
def test_openraster_zip_with_a_deflated_xmp_member_is_read(member: str) -> None:
    data = zip_file(
        {
            "mimetype": b"image/openraster",
            "stack.xml": b"<image w='8' h='8'><stack/></image>",
            member: xmp(f"<plus:DataMining>{AIML}</plus:DataMining>"),
        }
    )
    assert b"DataMining" not in data
    assert training_reservations(data) == [Reservation("IPTC Data Mining", AIML)]


def test_krita_zip_with_bare_rdf_member_is_read() -> None:
    rdf = f'<rdf:RDF {NAMESPACES}><rdf:Description tdm:reservation="1"/></rdf:RDF>'.encode()
    maindoc = b"<!DOCTYPE DOC PUBLIC '-//KDE//DTD krita 2.0//EN' 'krita-2.0.dtd'><DOC/>"
    data = zip_file({"mimetype": b"application/x-krita", "maindoc.xml": maindoc, "metadata.xmp": rdf})
    assert training_reservations(data) == [Reservation("TDM-Rep", "reservation=1")]


def test_zip_members_beyond_the_metadata_budget_are_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signals, "MAX_METADATA_BYTES", 4096)
    refusal = xmp(f"<plus:DataMining>{AIML}</plus:DataMining>")
    assert training_reservations(zip_file({"a.xml": b"<a/>" + b" " * 4096, "b.xmp": refusal})) == []
    assert training_reservations(zip_file({"a.xml": b"<a/>", "b.xmp": refusal}))


def test_compressed_itxt_bomb_is_inflated_only_up_to_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signals, "MAX_METADATA_BYTES", 1024)
    assert training_reservations(png(b"<x:xmpmeta " + b" " * 10_000_000, compressed=True)) == []


@pytest.mark.parametrize(
    "packet",
    [
        xmp(f"<plus:DataMining>{AIML}</plus:DataMiningX>"),
        xmp(f"<plus:DataMining>{AIML}</plus:DataMining>").replace(b"xmlns:plus=", b"xmlns:plus"),
        xmp(f"<plus:DataMining>{AIML}</plus:DataMining>")[:-40],
        xmp(f"<plus:DataMining>{AIML}</plus:DataMining>").replace(b"</x:xmpmeta>", b"\xff\xfe</x:xmpmeta>"),
    ],
    ids=["mismatched-tag", "broken-namespace", "truncated", "bad-utf8"],
)
def test_malformed_xmp_is_skipped_without_a_crash(packet: bytes) -> None:
    data = png()
    assert training_reservations(with_png_chunk(data, b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + packet)) == []
    assert training_reservations(jpeg() + packet) == []


def test_xml_entity_bombs_and_damaged_containers_are_skipped() -> None:
    bomb = b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><r>&b;</r>'
    assert training_reservations(zip_file({"mimetype": b"image/openraster", "stack.xml": bomb})) == []
    assert training_reservations(zip_file({"metadata.xmp": b"x"})[:-30]) == []
    corrupt_itxt = b"XML:com.adobe.xmp\0\x01\x00\0\0" + b"not zlib at all"
    assert training_reservations(with_png_chunk(png(), b"iTXt", corrupt_itxt)) == []


def test_imagemagick_hex_raw_profile_is_decoded() -> None:
    packet = xmp(f"<plus:DataMining>{AIML}</plus:DataMining>")
    text = b"\nxmp\n" + str(len(packet)).encode().rjust(8) + b"\n" + packet.hex().encode() + b"\n"
    data = with_png_chunk(png(), b"zTXt", b"Raw profile type xmp\0\0" + zlib.compress(text))
    assert training_reservations(data) == [Reservation("IPTC Data Mining", AIML)]


def test_the_same_reservation_found_twice_is_reported_once() -> None:
    data = png(xmp(f"<plus:DataMining>{AIML}</plus:DataMining>", f'plus:DataMining="{AIML}"'))
    assert training_reservations(data + data) == [Reservation("IPTC Data Mining", AIML)]


def test_every_standard_in_one_file_is_reported() -> None:
    properties = f"<plus:DataMining>{AIML}</plus:DataMining><tdm:reservation>1</tdm:reservation>"
    data = with_png_chunk(
        png(xmp(properties)), b"caBX", c2pa_store("c2pa.training-mining", {"c2pa.ai_inference": "notAllowed"})
    )
    assert [reservation.standard for reservation in training_reservations(data)] == [
        "IPTC Data Mining",
        "TDM-Rep",
        "C2PA training-mining",
    ]


@pytest.mark.parametrize("data", [png(), jpeg(), b"", b"PK\x03\x04", b"\x89PNG\r\n\x1a\n"])
def test_files_without_signals_have_no_reservations(data: bytes) -> None:
    assert training_reservations(data) == []


class Examined(bytes):
    """Bytes that add up how many of themselves `find`, `rfind` and `in` look at; their slices add to the same total.

    Those are the scan's only ways of searching the bytes (its one regex reads at most 64 bytes), so the total is
    the scan's work, whatever the machine's speed.
    """

    total = 0

    def find(self, sub, start=None, end=None) -> int:  # type: ignore[override]
        at = super().find(sub, start, end)
        first, last, _ = slice(start, end).indices(len(self))
        Examined.total += at + len(sub) - first if at >= 0 else max(0, last - first)
        return at

    def rfind(self, sub, start=None, end=None) -> int:  # type: ignore[override]
        at = super().rfind(sub, start, end)
        first, last, _ = slice(start, end).indices(len(self))
        Examined.total += last - at if at >= 0 else max(0, last - first)
        return at

    def __contains__(self, sub) -> bool:  # type: ignore[override]
        Examined.total += len(self)
        return super().__contains__(sub)

    def __getitem__(self, key):  # type: ignore[override]
        part = super().__getitem__(key)
        return Examined(part) if isinstance(key, slice) else part


def hostile(n: int) -> bytes:
    """A PNG signature, then every marker the scan looks for repeated n (or 4n) times, no packet ever valid."""
    return (
        PNG_SIGNATURE
        + b"<x:xmpmeta " * (4 * n)
        + b"c2pa.training-mining c2pa.ai_training " * n
        + b"\xff\xff\xff\xffiTXtXML:com.adobe.xmp\0" * n
        + b"<x:xmpmeta></x:xmpmeta>" * n
    )


SMALL, LARGE = 500, 2000  # repetitions: a quadratic scan still ends in seconds, and is caught
LINEAR = 5  # 4× the bytes may cost at most 5× the work (fixed caps included); quadratic work costs ~16×


def work_on_hostile_files(scan) -> tuple[int, int]:
    """How many bytes `scan`'s searches look at in hostile(SMALL) and in hostile(LARGE)."""
    totals = []
    for n in (SMALL, LARGE):
        Examined.total = 0
        assert not scan(Examined(hostile(n)))
        totals.append(Examined.total)
    return totals[0], totals[1]


def test_hostile_repetitions_of_markers_are_scanned_with_work_linear_in_the_file_size(monkeypatch) -> None:
    real_scan = signals._scan  # texts inflated or unpacked from the file are scanned through _scan: count them too
    monkeypatch.setattr(signals, "_scan", lambda data, whole=False: real_scan(Examined(data), whole))
    small, large = work_on_hostile_files(training_reservations)
    assert small >= len(hostile(SMALL)), "the count sees the whole scan"
    assert large <= LINEAR * small


def test_the_work_count_catches_a_scan_that_is_quadratic_in_the_markers() -> None:
    def every_start_to_its_end(data: bytes) -> list:  # what _xmp_packets avoids
        at = data.find(XMP_START)
        while at >= 0:
            data.find(XMP_END, at)
            at = data.find(XMP_START, at + 1)
        return []

    small, large = work_on_hostile_files(every_start_to_its_end)
    assert large > LINEAR * small
