"""Where a BAM's index (.bai or .csi) says its mapped reads end, to catch an index older than its BAM.

A BAM written again with more reads after it was indexed (a lane merged in, a step rerun) keeps a .bai that
knows only the reads it was made for; htslib then serves every region from the old bins and silently leaves
out whatever came later (hostile18: 32 PASS calls of 50 kb lost, exit 0). Both index formats list, per bin,
chunks of virtual file offsets; the largest chunk end is where the last indexed read ends. In an index that
matches its BAM nothing but unplaced reads (no contig) can follow it.

Formats: SAMv1 §5.2 (BAI: plain; CSI: BGZF-compressed, with a configurable bin depth). The pseudo-bin of each
reference holds counts in its second chunk, not offsets, so it is left out.
"""
from __future__ import annotations

import gzip
import struct

BAI_PSEUDO_BIN = 37450


def indexed_end(index_path: str) -> int | None:
    """The largest chunk end (a BGZF virtual offset) of a .bai or .csi, or None when the file is neither or is
    cut short (the caller then checks nothing)."""
    try:
        with open(index_path, "rb") as fh:
            data = fh.read()
        if data[:4] != b"BAI\x01":
            data = gzip.decompress(data)  # a CSI is BGZF: gzip members
        if data[:4] == b"BAI\x01":
            return _bai_end(data)
        if data[:4] == b"CSI\x01":
            return _csi_end(data)
    except (OSError, EOFError, struct.error, ValueError):
        return None
    return None


def _bai_end(data: bytes) -> int:
    (n_ref,) = struct.unpack_from("<i", data, 4)
    at, end = 8, 0
    for _ in range(n_ref):
        (n_bin,) = struct.unpack_from("<i", data, at)
        at += 4
        for _ in range(n_bin):
            bin_id, n_chunk = struct.unpack_from("<Ii", data, at)
            at += 8
            if bin_id != BAI_PSEUDO_BIN and n_chunk:
                end = max(end, max(struct.unpack_from(f"<{2 * n_chunk}Q", data, at)[1::2]))
            at += 16 * n_chunk
        (n_intv,) = struct.unpack_from("<i", data, at)
        at += 4 + 8 * n_intv
    return end


def _csi_end(data: bytes) -> int:
    _min_shift, depth, l_aux = struct.unpack_from("<iii", data, 4)
    at = 16 + l_aux
    pseudo = ((1 << ((depth + 1) * 3)) - 1) // 7 + 1
    (n_ref,) = struct.unpack_from("<i", data, at)
    at += 4
    end = 0
    for _ in range(n_ref):
        (n_bin,) = struct.unpack_from("<i", data, at)
        at += 4
        for _ in range(n_bin):
            bin_id, _loffset, n_chunk = struct.unpack_from("<IQi", data, at)
            at += 16
            if bin_id != pseudo and n_chunk:
                end = max(end, max(struct.unpack_from(f"<{2 * n_chunk}Q", data, at)[1::2]))
            at += 16 * n_chunk
    return end
