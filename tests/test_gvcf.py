"""gVCF: reference confidence, GQ-binned blocks, the merge with variant records, and bcftools merge --gvcf."""
from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pysam
import pytest
from click.testing import CliRunner

from deepvariant_py.cli.main import main
from deepvariant_py.gvcf import NON_REF, RefBlock, gvcf_records, quantize_gq, reference_blocks, reference_confidence
from deepvariant_py.vcf import VcfRecord

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "testdata")
REF = os.path.join(TESTDATA, "ucsc.hg19.chr20.unittest.fasta.gz")
BAM = os.path.join(TESTDATA, "NA12878.chr20_10.00-10.02Mb.bam")


def test_reference_confidence_matches_the_binomial_model():
    gq, pl, homref = reference_confidence(np.array([10, 0, 5, 200]), np.array([10, 0, 10, 210]))
    # 10/10 ref reads: P(RA)/P(RR) = 0.5^10 / 0.999^10, so GQ = floor(10 * log10(~1024)) = 30
    assert gq[0] == 30 and pl[0].tolist() == [0, 30, 299] and homref[0]
    # no reads: the three genotypes are equally likely, GQ = floor(-10 log10(2/3)) = 1
    assert gq[1] == 1 and pl[1].tolist() == [0, 0, 0] and homref[1]
    assert not homref[2] and gq[2] == 0  # half the reads disagree: het is most likely
    assert gq[3] == 50  # capped, after rescaling the counts to 100


def test_gq_bins():
    assert quantize_gq(np.array([0, 1, 5, 6, 10, 11, 50])).tolist() == [0, 1, 1, 6, 6, 11, 46]


def test_blocks_break_on_bins_skip_n_and_keep_non_ref_positions_single():
    codes = np.array([0, 1, 2, 3, 4, 0, 1, 2, 3, 0])  # an N at offset 4
    ref_count = np.array([30, 30, 30, 30, 0, 30, 2, 30, 3, 3])
    depth = np.array([30, 30, 30, 30, 0, 30, 30, 30, 3, 3])
    blocks = reference_blocks("c", 100, codes, ref_count, depth)
    assert [(b.start, b.end, b.callable) for b in blocks] == [(100, 104, True), (105, 106, True), (106, 107, False),
                                                              (107, 108, True), (108, 110, True)]
    assert blocks[-1].gq == 9 and blocks[-1].min_dp == 3 and blocks[0].gq == 50 and blocks[0].min_dp == 30


def test_blocks_break_where_a_candidate_starts_and_after_it_ends():
    codes = np.zeros(10, np.int64)
    ref_count = depth = np.array([30, 30, 30, 30, 8, 8, 30, 30, 30, 30])
    whole = reference_blocks("c", 100, codes, ref_count, depth)
    assert [(b.start, b.end) for b in whole] == [(100, 104), (104, 106), (106, 110)]
    cut = reference_blocks("c", 100, codes, ref_count, depth, cuts=np.array([2, 3, 0, 10, 12]))  # a SNP at 102
    assert [(b.start, b.end, b.min_dp) for b in cut] == [(100, 102, 30), (102, 103, 30), (103, 104, 30), (104, 106, 8),
                                                          (106, 110, 30)]


def test_variant_records_get_non_ref_and_cut_the_blocks():
    fetch = lambda contig, s, e: "ACGTACGTACGTACGTACGT"[s:e]  # noqa: E731
    deletion = VcfRecord(contig="c", start=5, ref="CGT", alts=["C"], qual=30.0, filter="PASS",
                         genotype=(0, 1), gq=30, depth=20, allele_depths=[10, 10], vafs=[0.5], pl=[30, 0, 40])
    snp = VcfRecord(contig="c", start=12, ref="A", alts=["G", "T"], qual=30.0, filter="PASS",
                    genotype=(1, 2), gq=20, depth=20, allele_depths=[0, 10, 10], vafs=[0.5, 0.5], pl=[90, 80, 70, 60, 0, 50])
    blocks = [RefBlock("c", 0, 10, 40, 20, (0, 60, 600)), RefBlock("c", 10, 20, 38, 18, (0, 60, 600))]
    out = [record for _, record in gvcf_records([deletion, snp], blocks, {"c": 0}, fetch)]
    spans = [(r.start, r.end, r.alts) for r in out]
    assert spans == [(0, 5, [NON_REF]), (5, None, ["C", NON_REF]), (8, 12, [NON_REF]), (12, None, ["G", "T", NON_REF]),
                     (13, 20, [NON_REF])]
    assert out[2].ref == "A" and out[2].gq == 38 and out[2].min_dp == 18  # adjacent blocks of one bin joined
    assert out[0].gq == 40 and out[0].min_dp == 20  # cut before joining: the second block's values stay its own
    assert out[1].pl == [30, 0, 40, 990, 990, 990] and out[1].allele_depths == [10, 10, 0]
    assert len(out[3].pl) == 10 and out[3].pl[-4:] == [990] * 4


def _run(tmp_path, name, region, sample):
    vcf, gvcf = tmp_path / f"{name}.vcf.gz", tmp_path / f"{name}.g.vcf.gz"
    result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", BAM, "--output-vcf", str(vcf), "--output-gvcf", str(gvcf),
                                       "--regions", region, "--sample-name", sample, "--num-shards", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    return vcf, gvcf


def test_gvcf_covers_the_region_and_agrees_with_the_vcf(tmp_path):
    vcf, gvcf = _run(tmp_path, "a", "chr20:10,002,001-10,005,000", "S1")
    with pysam.VariantFile(str(vcf)) as fh:
        calls = [(r.pos, r.ref, r.alts, r.samples[0]["GT"], r.filter.keys()) for r in fh]
    with pysam.VariantFile(str(gvcf)) as fh:
        records = list(fh)
    variants = [(r.pos, r.ref, r.alts[:-1], r.samples[0]["GT"], r.filter.keys()) for r in records if r.alts != (NON_REF,)]
    assert variants == calls and len(calls) > 10
    assert all(r.alts[-1] == NON_REF for r in records)
    covered = np.zeros(3000, int)
    for r in records:
        covered[r.start - 10002000:r.stop - 10002000] += 1
    assert (covered == 1).all()  # every base once: blocks cut exactly around the variants


@pytest.mark.skipif(shutil.which("bcftools") is None, reason="bcftools not installed (apt-get install bcftools)")
def test_bcftools_reads_and_merges_two_gvcfs(tmp_path):
    _, g1 = _run(tmp_path, "a", "chr20:10,002,001-10,005,000", "S1")
    _, g2 = _run(tmp_path, "b", "chr20:10,003,001-10,006,000", "S2")
    for g in (g1, g2):
        view = subprocess.run(["bcftools", "view", str(g)], capture_output=True, text=True)
        assert view.returncode == 0 and view.stderr == ""
    merged = tmp_path / "merged.g.vcf.gz"
    proc = subprocess.run(["bcftools", "merge", "--gvcf", REF, str(g1), str(g2), "-Oz", "-o", str(merged)],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    with pysam.VariantFile(str(merged)) as fh:
        assert list(fh.header.samples) == ["S1", "S2"]
        both = [r for r in fh if r.start >= 10003000 and r.stop <= 10005000 and r.alts != (NON_REF,)]
    assert both and all(r.samples["S1"]["GT"] == r.samples["S2"]["GT"] for r in both)


def test_blocks_given_twice_overlap_and_are_refused(tmp_path):
    """Shards' blocks tile the genome: a blocks file given twice (a copy escapes the same-path check) overlaps."""
    from deepvariant_py.errors import InputError
    from deepvariant_py.gvcf import UnsortedBlocks, read_blocks, write_blocks
    one = [RefBlock("chr20", 100, 200, 30, 20, (0, 30, 300), True), RefBlock("chr20", 200, 201, 0, 20, (0, 0, 0), False)]
    two = [RefBlock("chr20", 201, 400, 40, 25, (0, 40, 400), True)]
    paths = [str(tmp_path / n) for n in ("a.tsv.gz", "b.tsv.gz", "a_copy.tsv.gz")]
    for path, blocks in zip(paths, (one, two, one)):
        write_blocks(path, blocks)
    order = {"chr20": 0}
    assert list(read_blocks(paths[1::-1], order)) == one + two  # merged in reference order
    with pytest.raises(InputError, match="gVCF reference blocks overlap at chr20:101: a blocks file is given twice"):
        list(read_blocks(paths, order))
    backwards = str(tmp_path / "backwards.tsv.gz")  # two shards' files concatenated the wrong way round
    write_blocks(backwards, two + one)
    with pytest.raises(UnsortedBlocks):
        list(read_blocks([backwards], order))
    assert list(read_blocks([backwards], order, in_memory=True)) == one + two


def test_blocks_without_reads_equal_the_per_position_ones():
    """A partition no read covers skips the per-position work: the same blocks, one per run of A/C/G/T bases."""
    from deepvariant_py.gvcf import reference_blocks, uncovered_blocks
    from deepvariant_py.read_events import encode_bases
    for seq in ("ACGTNNNNacgtRYACGT", "NNNN", "ACGT", "", "NACGTN"):
        codes = encode_bases(seq)
        zeros = np.zeros(len(codes), np.int64)
        assert uncovered_blocks("c", 1000, codes) == reference_blocks("c", 1000, codes, zeros, zeros), seq


def test_clip_blocks_keeps_the_pieces_inside_the_spans():
    from deepvariant_py.gvcf import clip_blocks
    blocks = [RefBlock("c", 0, 100, 30, 12, (0, 30, 300)), RefBlock("c", 100, 101, 3, 2, (5, 0, 40), False)]
    assert clip_blocks(blocks, [(10, 20), (95, 105)]) == [
        RefBlock("c", 10, 20, 30, 12, (0, 30, 300)), RefBlock("c", 95, 100, 30, 12, (0, 30, 300)),
        RefBlock("c", 100, 101, 3, 2, (5, 0, 40), False)]
    assert clip_blocks(blocks, []) == []


def test_a_bed_of_many_nearby_tiny_intervals_is_called_in_windows_and_kept_to_them(tmp_path):
    """hostile14: 42,572 one-base BED intervals over 300 kb took 75 s (one partition each, the same reads fetched
    and realigned ~14 times) where the span took 5 s. Nearby intervals are now one window of a few partitions;
    the VCF keeps the candidates inside the intervals and the gVCF covers exactly them."""
    from deepvariant_py.make_examples import MakeExamplesOptions, make_examples
    from deepvariant_py.regions import parse_regions
    from deepvariant_py.reference import Reference
    start, end = 10_002_000, 10_005_000
    with pysam.VariantFile(str(_run(tmp_path, "span", f"chr20:{start + 1:,}-{end:,}", "S1")[0])) as fh:
        sites = [r.start for r in fh]
    bed = tmp_path / "tiny.bed"
    wanted = sorted(set(range(start, end, 9)) | set(sites[::2]))  # every 9th base, and every other called site
    bed.write_text("".join(f"chr20\t{p}\t{p + 1}\n" for p in wanted))
    stats = make_examples(REF, BAM, str(tmp_path / "ex.tfrecord.gz"), parse_regions([str(bed)], Reference(REF).lengths),
                          MakeExamplesOptions(), gvcf_output=str(tmp_path / "blocks.tsv.gz"))
    assert stats.partitions == 3  # the 3 kb window's partitions, not one per interval (~350)
    vcf, gvcf = _run(tmp_path, "tiny", str(bed), "S1")
    with pysam.VariantFile(str(vcf)) as fh:
        called = [r.start for r in fh]
    assert set(called) <= set(wanted) and set(sites[::2]) <= set(called)
    blocks, variants = np.zeros(end - start, int), np.zeros(end - start, int)
    with pysam.VariantFile(str(gvcf)) as fh:
        for r in fh:  # a variant covers its REF span (a deletion's runs past its interval), a block its own
            (blocks if r.alts == (NON_REF,) else variants)[r.start - start:r.stop - start] += 1
    want = np.zeros(end - start, bool)
    want[np.array(wanted) - start] = True
    assert (blocks <= want).all()  # blocks only inside the intervals, each base at most once
    assert ((blocks + variants)[want] >= 1).all() and not (blocks.astype(bool) & variants.astype(bool)).any()


def test_a_base_of_the_regions_called_without_a_record_stops_the_gvcf():
    """hostile10: a resumed shard skipped a partition and the gVCF had a 1 kb hole, exit 0. Whatever loses reference
    blocks (a damaged file, a bug), postprocess of a run now checks its gVCF covers every A/C/G/T base it called."""
    from deepvariant_py.gvcf import GvcfHole, check_tiling
    from deepvariant_py.regions import Region, RegionSet
    seqs = {"a": "ACGTNNNNACGTACGTACGT", "b": "NNNNACGT", "c": "ACGTACGT"}
    fetch = lambda contig, s, e: seqs[contig][s:e]  # noqa: E731
    snp = VcfRecord(contig="a", start=9, ref="C", alts=["G"], qual=30.0, filter="PASS", genotype=(0, 1), gq=30, depth=20,
                    allele_depths=[10, 10], vafs=[0.5], pl=[30, 0, 40])
    good = [RefBlock("a", 0, 4, 40, 20, (0, 60, 600)), RefBlock("a", 8, 20, 40, 20, (0, 60, 600)),
            RefBlock("b", 4, 8, 40, 20, (0, 60, 600))]
    called = RegionSet([Region("a", 0, 20), Region("b", 0, 8), Region("c", 2, 6)])

    def tiled(blocks, regions):
        pairs = gvcf_records([snp], blocks, {"a": 0, "b": 1, "c": 2}, fetch)
        return [r.start for _, r in check_tiling(pairs, regions, ["a", "b", "c"], fetch)]

    assert tiled(good + [RefBlock("c", 2, 6, 40, 20, (0, 60, 600))], called) == [0, 8, 9, 10, 4, 2]  # Ns need no record
    with pytest.raises(GvcfHole, match="no record at c:3,"):
        tiled(good, called)  # a contig called and never reached
    assert tiled(good, RegionSet([Region("a", 0, 20), Region("b", 0, 8)])) == [0, 8, 9, 10, 4]
    with pytest.raises(GvcfHole, match="no record at a:13,"):
        tiled([good[0], RefBlock("a", 8, 12, 40, 20, (0, 60, 600)), RefBlock("a", 14, 20, 40, 20, (0, 60, 600)), good[2]],
              called)
    with pytest.raises(GvcfHole, match="no record at a:19,"):  # the end of a contig
        tiled([good[0], RefBlock("a", 8, 18, 40, 20, (0, 60, 600)), good[2]], called)
    # only inside the regions called: a record-free stretch between them is no hole
    assert tiled([good[0], RefBlock("a", 12, 20, 40, 20, (0, 60, 600))], RegionSet([Region("a", 0, 4), Region("a", 12, 20)])) \
        == [0, 9, 12]


def test_a_run_whose_reference_blocks_lose_a_stretch_writes_nothing(tmp_path, monkeypatch):
    import deepvariant_py.postprocess as pp
    reader = pp.read_blocks

    def losing(*args, **kwargs):  # a bug that drops one block of the middle
        blocks = list(reader(*args, **kwargs))
        return iter(blocks[:len(blocks) // 2] + blocks[len(blocks) // 2 + 1:])

    monkeypatch.setattr(pp, "read_blocks", losing)
    vcf, gvcf = tmp_path / "out.vcf.gz", tmp_path / "out.g.vcf.gz"
    result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", BAM, "--output-vcf", str(vcf), "--output-gvcf", str(gvcf),
                                       "--regions", "chr20:10,002,001-10,005,000", "--num-shards", "1", "--quiet"])
    assert result.exit_code == 1 and "the gVCF would have no record at chr20:" in result.output
    assert not vcf.exists() and not gvcf.exists()


def test_postprocess_checks_the_blocks_cover_what_their_headers_say_was_called(tmp_path):
    """The stage-by-stage path (and the workflow): make-examples records the run's calling regions in each blocks
    file's header, and postprocess checks the gVCF covers them, as `dvcall run` does."""
    import gzip
    import json
    golden = os.path.join(TESTDATA, "golden")
    with gzip.open(os.path.join(golden, "gvcf_blocks.tsv.gz"), "rt") as fh:
        header, *lines = fh.readlines()
    assert json.loads(header[1:])["called"] == [["chr20", 10_002_000, 10_006_000]]
    calls = os.path.join(golden, "calls.jsonl.gz")
    lost = lines[:40] + lines[41:]  # one block's line lost inside the file

    def postprocess(name, head, body):
        blocks = tmp_path / f"{name}.tsv.gz"
        with gzip.open(blocks, "wt") as fh:
            fh.writelines([head] + body)
        out = tmp_path / f"{name}.vcf.gz"
        result = CliRunner().invoke(main, ["postprocess", "--ref", REF, "--calls", calls, "--gvcf-blocks", str(blocks),
                                           "--output-vcf", str(out), "--output-gvcf", str(tmp_path / f"{name}.g.vcf.gz")])
        return result, out

    result, out = postprocess("whole", header, lines)
    assert result.exit_code == 0, result.output
    result, out = postprocess("lost", header, lost)
    assert result.exit_code == 1 and "the gVCF would have no record at chr20:" in result.output and not out.exists()
    assert not (tmp_path / "lost.g.vcf.gz").exists()
    old = '#{"format": "dvcall-gvcf-blocks", "version": 1}\n'  # written before headers named the regions: not checked
    result, out = postprocess("old", old, lost)
    assert result.exit_code == 0, result.output


def test_the_tiling_check_refuses_records_out_of_reference_order():
    from deepvariant_py.gvcf import GvcfHole, block_record, check_tiling
    from deepvariant_py.regions import Region, RegionSet
    records = [(None, block_record(RefBlock(c, 0, 4, 50, 30, (0, 90, 900)), "A")) for c in ("a", "b", "a")]
    with pytest.raises(GvcfHole, match="come back to a after a later contig"):
        list(check_tiling(records, RegionSet([Region("a", 0, 4), Region("b", 0, 4)]), ["a", "b"], lambda c, s, e: "A" * (e - s)))


def test_under_a_floor_below_q10_the_blocks_count_only_q10_bases(tmp_path):
    """At --min-base-quality 0 (the ont preset) candidates take every base, but the reference model of the blocks
    (a counted base wrong 1 time in 1,000) does not hold for Q2-9 bases: the blocks count the Q10+ ones, as at 10.
    Here 8 of 24 reads show a C at Q5: a candidate at 0, none at 10, and the same block either way."""
    from deepvariant_py.alignment_files import open_alignments
    from deepvariant_py.make_examples import process_partition
    from deepvariant_py.presets import make_examples_options, resolve_settings
    from deepvariant_py.reference import Reference
    from deepvariant_py.regions import Region
    from builders import header_for, make_read, write_bam, write_fasta

    ref = "".join("ACGT"[(i * 7 + i // 5) % 4] for i in range(400))
    fasta = write_fasta(tmp_path / "ref.fa", {"c": ref})
    header = header_for("c", len(ref))
    site = 200
    reads = []
    for i in range(24):
        seq = list(ref[100:300])
        quals = [30] * 200
        if i < 8:
            seq[site - 100] = "C" if ref[site] != "C" else "G"
            quals[site - 100] = 5
        reads.append(make_read(f"r{i}", 100, "200M", "".join(seq), quals=quals, header=header, reverse=bool(i % 2)))
    bam = write_bam(tmp_path / "reads.bam", reads, header)
    reference = Reference(fasta)
    region = Region("c", 150, 250)
    parts = {}
    for floor in (0, 10):
        opts = make_examples_options(resolve_settings("illumina", None, min_base_quality=floor, realign=False))
        with open_alignments(bam, reference) as handle:
            parts[floor] = process_partition(handle, reference, region, opts, gvcf=True)
    assert [c.start for c in parts[0].candidates] == [site] and parts[10].candidates == []
    at = {floor: [b for b in part.ref_blocks if b.start <= site < b.end] for floor, part in parts.items()}
    assert at[0] and at[10] and [(b.gq, b.min_dp, b.callable) for b in at[0]] == [(b.gq, b.min_dp, b.callable) for b in at[10]]
    assert at[10][0].min_dp == 16  # the eight Q5 bases are not counted
    assert parts[0].n_low_quality == parts[10].n_low_quality == 8  # the BAM diagnosis counts below Q10 at either floor
