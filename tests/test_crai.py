"""crai.py: a CRAM's slices from its index, and reads.ReadAhead reading a CRAM where its slices are: each
partition still gets exactly the reads of its own fetch, with far fewer fetches where reads are sparse."""
from __future__ import annotations

import random

import numpy as np
import pysam
import pytest

from builders import header_for, make_read, write_bam, write_fasta
from deepvariant_py.crai import Slices, crai_path, load_span, read_crai
from deepvariant_py.reads import ReadAhead, ReadCounts, ReadFilter, fetch_reads, open_reads
from deepvariant_py.reference import Reference
from deepvariant_py.regions import Region, partition, stretches

LENGTH = 200_000


def test_load_span_skips_widens_or_keeps_the_stretch():
    a = {"c": Slices(np.array([100, 5_000]), np.array([2_000, 90_000]), np.array([1_000, 2_000]))}
    assert load_span([a], "c", 2_500, 3_000) is None  # between slices: no read can be there
    assert load_span([a], "other", 0, 10) is None  # a contig without slices
    assert load_span([a], "c", 10_000, 20_000) == (5_000, 90_000)  # inside a wide slice: load it whole, once
    assert load_span([a], "c", 1_500, 6_000) == (100, 90_000)  # two slices
    assert load_span([a, None], "c", 2_500, 3_000) == (2_500, 3_000)  # a BAM beside it: fetched as asked
    big = {"c": Slices(np.array([0]), np.array([90_000]), np.array([1 << 30]))}
    assert load_span([big], "c", 10_000, 20_000) == (10_000, 20_000)  # too many bytes to hold: as asked


def test_an_unreadable_index_is_no_index(tmp_path):
    bad = tmp_path / "x.cram.crai"
    bad.write_bytes(b"not gzip")
    assert read_crai(str(bad), ("c",)) is None and crai_path(str(tmp_path / "y.cram")) is None
    import gzip
    multi = tmp_path / "m.cram.crai"
    with gzip.open(multi, "wt") as fh:
        fh.write("0\t100\t50\t10\t5\t900\n-2\t0\t0\t1000\t5\t800\n")
    assert read_crai(str(multi), ("c",)) is None  # a slice whose references are not listed: skip nothing
    with gzip.open(multi, "wt") as fh:
        fh.write("0\t100\t50\t10\t5\t900\n-1\t0\t0\t1000\t5\t800\n")
    assert read_crai(str(multi), ("c",))["c"].starts.tolist() == [99]  # unmapped reads' slice: not a span


@pytest.fixture(scope="module")
def sparse_cram(tmp_path_factory):
    """Reads in three spots of a 200 kb contig (one spot on its own, two 150 kb apart), in a CRAM of small
    slices, and the same reads as a BAM."""
    tmp = tmp_path_factory.mktemp("cram")
    rng = random.Random(3)
    seq = "".join(rng.choice("ACGT") for _ in range(LENGTH))
    ref = write_fasta(tmp / "ref.fa", {"c": seq})
    header = header_for("c", LENGTH)
    reads = []
    for spot in (1_000, 20_000, 170_000):
        for i in range(60):
            s = spot + rng.randrange(0, 3_000)
            reads.append(make_read(f"r{spot}_{i}", s, "100M", seq=seq[s:s + 100], header=header))
    bam = write_bam(tmp / "reads.bam", reads, header)
    cram = str(tmp / "reads.cram")
    pysam.view("-C", "-T", ref, "--output-fmt-option", "seqs_per_slice=50", "-o", cram, bam, catch_stdout=False)
    pysam.index(cram)
    return ref, bam, cram


def test_read_crai_gives_each_slices_span(sparse_cram):
    ref, bam, cram = sparse_cram
    slices = read_crai(crai_path(cram), ("c",))["c"]
    assert len(slices.starts) >= 4 and (slices.ends > slices.starts).all() and (slices.sizes > 0).all()
    with pysam.AlignmentFile(bam) as fh:
        for r in fh:  # every read lies inside a slice's span
            assert len(slices.overlapping(r.reference_start, r.reference_end)) >= 1


def test_read_ahead_on_a_cram_reads_each_partition_as_its_own_fetch(sparse_cram, monkeypatch):
    ref, bam, cram = sparse_cram
    reference = Reference(ref)
    parts = partition([Region("c", 0, LENGTH)], 1_000)
    flt = ReadFilter()
    with open_reads(bam, reference) as direct, open_reads(cram, reference) as sources:
        assert sources.cram_slices[0] is not None and direct.cram_slices == [None]
        fetched = []
        real = sources.fetch
        monkeypatch.setattr(sources, "fetch", lambda *a: fetched.append(a) or real(*a))
        ahead = ReadAhead(sources)
        counts_direct, counts_ahead = ReadCounts(), ReadCounts()
        for run in stretches(parts, 10):
            ahead.plan(Region("c", run[0].start, run[-1].end))
            for p in run:
                want = [r.query_name for r in fetch_reads(direct, p, flt, counts_direct)]
                assert [r.query_name for r in fetch_reads(ahead, p, flt, counts_ahead)] == want
        assert counts_ahead == counts_direct and counts_direct.kept == 180
        # 20 stretches of 10 kb: only those with a slice are read, each slice's span once (not once per stretch)
        assert 1 <= len(fetched) <= 6, fetched
    reference.close()
