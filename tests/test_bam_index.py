"""bam_index.py: where a .bai or .csi says the indexed reads end."""
from __future__ import annotations

import pysam

from builders import header_for, make_read
from deepvariant_py.bam_index import indexed_end


def test_bai_and_csi_agree_on_where_the_indexed_reads_end(tmp_path):
    h = header_for("chr1", 5000, more=[("chr2", 3000)])
    path = str(tmp_path / "r.bam")
    with pysam.AlignmentFile(path, "wb", header=h) as out:
        for i in range(300):
            out.write(make_read(f"a{i:03d}", 10 * i, "30M", header=h))
        for i in range(50):
            out.write(make_read(f"b{i:03d}", 10 * i, "30M", header=h, contig="chr2"))
    pysam.index(path)
    pysam.index("-c", path, str(tmp_path / "r.bam.csi"))
    end = indexed_end(path + ".bai")
    assert end and end == indexed_end(path + ".csi")
    with pysam.AlignmentFile(path, "rb") as bam:  # the end is a read boundary: nothing mapped follows it
        bam.seek(end)
        assert next(bam, None) is None
    (tmp_path / "junk.bai").write_bytes(b"not an index")
    assert indexed_end(str(tmp_path / "junk.bai")) is None
    assert indexed_end(str(tmp_path / "missing.bai")) is None
