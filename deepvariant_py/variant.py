"""The variant record that crosses stage boundaries: inside every example, every call, and into the VCF.

make_examples' Candidate is one of these plus the allele each read carries; call_variants and postprocess
see only these fields. Named fields on disk (to_json), so files stay readable as fields are added.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from .errors import InputError


@dataclass
class VariantInfo:
    """What postprocess needs to write a VCF record; travels inside every example and every call."""

    contig: str
    start: int
    ref: str
    alts: tuple[str, ...]
    depth: int
    allele_depths: tuple[int, ...]

    @property
    def end(self) -> int:
        return self.start + len(self.ref)

    def to_json(self) -> dict:
        """Named fields, as examples ('variant/encoded') and calls files carry it."""
        return {"contig": self.contig, "start": self.start, "ref": self.ref, "alts": list(self.alts), "depth": self.depth,
                "allele_depths": list(self.allele_depths)}

    @classmethod
    def from_json(cls, data: dict | list) -> "VariantInfo":
        """The inverse of to_json; also reads the positional list of examples-1 / calls-1 files."""
        if isinstance(data, list):
            c, s, r, a, d, ad = data
            data = {"contig": c, "start": s, "ref": r, "alts": a, "depth": d, "allele_depths": ad}
        return cls(str(data["contig"]), int(data["start"]), str(data["ref"]), tuple(data["alts"]), int(data["depth"]),
                   tuple(int(x) for x in data["allele_depths"]))

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json()).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "VariantInfo":
        try:
            return cls.from_json(json.loads(data))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"an example's variant record is unreadable ({exc}): make the examples again") from None
