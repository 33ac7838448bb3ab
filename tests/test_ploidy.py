"""Haploid contigs (ploidy.py): no heterozygous genotype where the sample carries one copy, except in the PARs."""
from __future__ import annotations

import logging
import os

import numpy as np
import pytest
from click.testing import CliRunner

from deepvariant_py.errors import InputError
from deepvariant_py.gvcf import MAX_GQ, RefBlock, reference_confidence
from deepvariant_py.ploidy import HET_PL, HaploidRegions, haploid_block, haploid_blocks, haploid_probabilities, haploid_regions
from deepvariant_py.regions import Region, RegionSet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "testdata", "golden")
REF = os.path.join(ROOT, "testdata", "ucsc.hg19.chr20.unittest.fasta.gz")
LENGTHS = {"chrX": 156_040_895, "chrY": 57_227_415, "chr20": 64_444_167}


def test_het_probabilities_go_to_zero_and_the_rest_is_renormalised():
    np.testing.assert_allclose(haploid_probabilities(np.array([0.1, 0.6, 0.3])), [0.25, 0.0, 0.75])
    # two alts: (0,0) (0,1) (1,1) (0,2) (1,2) (2,2)
    np.testing.assert_allclose(haploid_probabilities(np.array([0.1, 0.2, 0.1, 0.2, 0.2, 0.2])),
                               [0.25, 0.0, 0.25, 0.0, 0.0, 0.5])
    np.testing.assert_allclose(haploid_probabilities(np.array([0.0, 1.0, 0.0])), [0.5, 0.0, 0.5])  # all het: homs share it


def test_a_site_is_haploid_on_a_haploid_contig_unless_it_touches_a_par():
    regions = HaploidRegions(frozenset({"chrX"}), RegionSet([Region("chrX", 10_000, 2_781_479)]))
    assert regions.covers("chrX", 5_000, 5_001) and regions.covers("chrX", 3_000_000, 3_000_005)
    assert not regions.covers("chrX", 10_000, 10_001)  # the PAR's first base
    assert not regions.covers("chrX", 9_995, 10_002)  # a deletion reaching into it
    assert regions.covers("chrX", 9_990, 10_000)  # ends just before it
    assert not regions.covers("chr20", 5_000, 5_001)


def _haploid_gq(n_ref: int, n_alt: int, p_error: float = 0.001) -> int:
    """GQ of hom-ref against hom-alt alone, from the counts (what a haploid reference model gives)."""
    l_ref = n_ref * np.log10(1 - p_error) + n_alt * np.log10(p_error)
    l_alt = n_ref * np.log10(p_error) + n_alt * np.log10(1 - p_error)
    p_alt = 1 / (1 + 10 ** (l_ref - l_alt))
    return MAX_GQ if p_alt <= 0 else min(MAX_GQ, int(np.floor(-10 * np.log10(p_alt))))


@pytest.mark.parametrize("n_ref,n_alt", [(0, 0), (1, 0), (2, 0), (5, 0), (30, 0), (100, 0), (3, 1), (2, 2), (1, 2), (4, 3)])
def test_a_block_takes_the_haploid_confidence_its_counts_give(n_ref, n_alt):
    gq, pl, homref = reference_confidence(np.array([n_ref]), np.array([n_ref + n_alt]))
    block = RefBlock("chrX", 100, 101, int(gq[0]), n_ref + n_alt, tuple(int(x) for x in pl[0]), bool(homref[0]))
    out = haploid_block(block)
    assert abs(out.gq - _haploid_gq(n_ref, n_alt)) <= 1  # the PLs it starts from are truncated
    assert out.callable == (n_ref >= n_alt) and out.pl[1] == HET_PL and min(out.pl[0], out.pl[2]) == 0
    assert (out.contig, out.start, out.end, out.min_dp) == ("chrX", 100, 101, n_ref + n_alt)
    if n_ref > n_alt:
        assert out.gq >= block.gq  # one copy: no het hypothesis to doubt the reference reads


def test_two_reference_reads_make_a_haploid_block_certain():
    gq, pl, _ = reference_confidence(np.array([2, 5]), np.array([2, 5]))
    assert list(gq) == [6, 15]  # diploid: ~3 per read, the het hypothesis stays open
    assert [haploid_block(RefBlock("chrX", 0, 1, int(g), 2, tuple(int(x) for x in p))).gq for g, p in zip(gq, pl)] == [MAX_GQ] * 2


def test_blocks_are_cut_at_the_pars_and_only_haploid_pieces_change():
    regions = HaploidRegions(frozenset({"chrX"}), RegionSet([Region("chrX", 100, 200), Region("chrX", 300, 400)]))
    low = (0, 9, 90)  # 3 reads: diploid GQ 9
    blocks = [RefBlock("chr1", 0, 500, 6, 3, low), RefBlock("chrX", 50, 350, 6, 3, low), RefBlock("chrX", 350, 360, 6, 3, low),
              RefBlock("chrX", 400, 410, 6, 3, low)]
    out = list(haploid_blocks(blocks, regions))
    assert [(b.contig, b.start, b.end, b.gq) for b in out] == [
        ("chr1", 0, 500, 6), ("chrX", 50, 100, MAX_GQ), ("chrX", 100, 200, 6), ("chrX", 200, 300, MAX_GQ),
        ("chrX", 300, 350, 6), ("chrX", 350, 360, 6), ("chrX", 400, 410, MAX_GQ)]
    assert [b.pl for b in out if b.gq == 6] == [low] * 4 and all(b.pl == (0, HET_PL, 90) for b in out if b.gq == MAX_GQ)
    assert list(haploid_blocks(blocks, None)) == blocks
    assert [b.gq for b in haploid_blocks(blocks, HaploidRegions(frozenset({"chrX"})))] == [6, MAX_GQ, MAX_GQ, MAX_GQ]


def test_the_flags_are_checked_against_the_reference(tmp_path, monkeypatch):
    assert haploid_regions([], None, LENGTHS) is None
    assert haploid_regions(["chrX,chrY", " chrX"], None, LENGTHS).contigs == {"chrX", "chrY"}
    with pytest.raises(InputError, match="names no contig"):
        haploid_regions([", "], None, LENGTHS)
    with pytest.raises(InputError, match=r"--haploid-contigs names 'X', which the reference does not have \(it has 'chrX'\)"):
        haploid_regions(["X,Y"], None, LENGTHS)
    bed = tmp_path / "par.bed"
    bed.write_text("chrX\t10000\t2781479\nchrY\t10000\t2781479\nchrM\t0\t10\n")
    with pytest.raises(InputError, match="--par-regions .* only matters with --haploid-contigs"):
        haploid_regions([], str(bed), LENGTHS)
    notes = []
    regions = haploid_regions(["chrX"], str(bed), LENGTHS, notes)
    assert regions.par.triples() == (("chrX", 10_000, 2_781_479), ("chrY", 10_000, 2_781_479))
    assert notes == ["--par-regions: 1 BED line(s) name contigs the reference lacks (chrM): they are skipped"]
    point = tmp_path / "point.bed"  # hostile21: a zero-length line (a "position") was skipped without a word, and
    point.write_text("#x\nchrX\t10000\t2781479\nchrY\t500\t500\n")  # review46: a note was hidden by --quiet
    with pytest.raises(InputError, match=r"--par-regions .*point.bed line 3: START == END holds no base, and a PAR is an interval"):
        haploid_regions(["chrX"], str(point), LENGTHS)
    named_like = tmp_path / "GRCh38"  # verify44: a file named like an assembly took the name over without a word
    named_like.write_text("chrX\t10000\t20000\n")
    monkeypatch.chdir(tmp_path)  # review43: a note that --quiet and the workflow hid; now the choice is the user's
    with pytest.raises(InputError, match=r"--par-regions GRCh38 names both a file here and an assembly .* pass ./GRCh38"):
        haploid_regions(["chrX"], "GRCh38", LENGTHS)
    assert haploid_regions(["chrX"], "./GRCh38", LENGTHS).par.triples() == (("chrX", 10_000, 20_000),)
    named_like.unlink()
    named_like.mkdir()  # verify45: a folder of that name is no BED: the assembly's PARs
    assert haploid_regions(["chrX"], "GRCh38", LENGTHS).par.triples()[0] == ("chrX", 10_000, 2_781_479)


def _genotypes(path):
    import pysam
    with pysam.VariantFile(path) as vcf:
        return {(r.pos, r.ref, r.alts): r.samples[0]["GT"] for r in vcf}


def test_postprocess_writes_no_het_on_a_haploid_contig_and_leaves_the_par_diploid(tmp_path):
    from deepvariant_py.cli.main import main
    calls = os.path.join(GOLDEN, "calls.jsonl.gz")

    def postprocess(name, *flags):
        out = str(tmp_path / f"{name}.vcf.gz")
        result = CliRunner().invoke(main, ["postprocess", "--ref", REF, "--calls", calls, "--output-vcf", out, "--quiet", *flags])
        return result, out

    _, diploid = postprocess("diploid")
    before = _genotypes(diploid)
    hets = {k for k, gt in before.items() if gt[0] != gt[1]}
    assert len(hets) >= 5
    par = tmp_path / "par.bed"
    par.write_text("chr20\t10000000\t10004000\n")  # the calls' first part stands in for a PAR
    result, haploid = postprocess("haploid", "--haploid-contigs", "chr20", "--par-regions", str(par))
    assert result.exit_code == 0, result.output
    after = _genotypes(haploid)
    assert after.keys() == before.keys()  # the same sites: only genotypes move
    for key, gt in after.items():
        if key[0] <= 10_004_000:
            assert gt == before[key]  # inside the PAR: diploid, unchanged
        else:
            assert None in gt or gt[0] == gt[1]  # no het outside it
    assert any(key[0] > 10_004_000 for key in hets) and any(key[0] <= 10_004_000 for key in hets)
    homs = [k for k, gt in before.items() if k[0] > 10_004_000 and None not in gt and gt[0] == gt[1] and gt[0] > 0]
    assert homs and all(after[k] == before[k] for k in homs)  # a hom-alt stays one
    result, wrong = postprocess("wrong", "--haploid-contigs", "20")
    assert result.exit_code == 1 and "--haploid-contigs names '20', which the reference does not have (it has 'chr20')" \
        in result.output and not os.path.exists(wrong)


def test_assemblies_name_their_pars_and_x_without_pars_is_warned_of():
    """review42: no PAR BED ships and `--haploid-contigs chrX` alone silently called PAR1/PAR2 haploid."""
    from deepvariant_py.ploidy import built_in_pars, missing_par_warning
    lengths = {"chrX": 156_040_895, "chrY": 57_227_415, "chr1": 1000}
    regions = haploid_regions(["chrX,chrY"], "GRCh38", lengths)
    assert regions.par.triples() == (("chrX", 10_000, 2_781_479), ("chrX", 155_701_382, 156_030_895),
                                     ("chrY", 10_000, 2_781_479), ("chrY", 56_887_902, 57_217_415))
    assert regions.covers("chrX", 2_781_479, 2_781_480) and not regions.covers("chrX", 2_781_478, 2_781_479)
    b37 = {"X": 155_270_560, "Y": 59_373_566}
    assert [str(r) for r in built_in_pars("b37", b37)] == ["X:60001-2699520", "X:154931044-155260560", "Y:10001-2649520",
                                                          "Y:59034050-59363566"]
    assert built_in_pars("hg38", {"chr1": 10}) == [] and built_in_pars("T2T", lengths) is None
    assert "pass --par-regions GRCh38" in missing_par_warning(haploid_regions(["chrX"], None, lengths), None, lengths)
    assert missing_par_warning(regions, "GRCh38", lengths) is None
    with pytest.raises(InputError, match="--par-regions GRCh37: the reference's chrX is 156,040,895 bp, not GRCh37's "
                                         "155,270,560: pass --par-regions GRCh38"):  # verify44: any X was taken
        haploid_regions(["chrX"], "GRCh37", lengths)
    with pytest.raises(InputError, match="--par-regions T2T is neither a BED file nor an assembly whose PARs dvcall knows"):
        haploid_regions(["chrX"], "T2T", lengths)
    assert missing_par_warning(haploid_regions(["chr1"], None, lengths), None, lengths) is None  # not a sex chromosome
    # hostile20: RefSeq names (NC_000023.11) got no built-in PARs and no warning; an empty BED neither
    refseq = {"NC_000023.11": 156_040_895, "NC_000024.10": 57_227_415}
    named = haploid_regions(["NC_000023.11"], "GRCh38", refseq)
    assert named.par.triples()[:2] == (("NC_000023.11", 10_000, 2_781_479), ("NC_000023.11", 155_701_382, 156_030_895))
    assert missing_par_warning(named, "GRCh38", refseq) is None
    assert "pass --par-regions GRCh38" in missing_par_warning(haploid_regions(["NC_000023.11"], None, refseq), None, refseq)
    empty = haploid_regions(["chrX"], "/dev/null", lengths)
    assert "--par-regions /dev/null places no region on chrX" in missing_par_warning(empty, "/dev/null", lengths)


def test_a_haploid_long_read_run_is_not_told_to_phase_what_has_one_copy(tmp_path, caplog):
    """review42: a pacbio run mostly on haploid contigs warned that phasing tagged few reads: with one copy
    there is no heterozygous site to phase by."""
    import pysam
    from builders import two_haplotype_sample
    from deepvariant_py.cli.main import main
    ref, bam, _ = two_haplotype_sample(str(tmp_path))
    one = str(tmp_path / "one_copy.bam")
    with pysam.AlignmentFile(bam) as src, pysam.AlignmentFile(one, "wb", template=src) as dst:
        for read in src:
            if read.query_name.startswith("h0-"):
                dst.write(read)
    pysam.index(one)
    outputs = {}
    for name, extra in (("diploid", []), ("haploid", ["--haploid-contigs", "chr1"])):
        out = str(tmp_path / f"{name}.vcf.gz")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="dvcall"):
            result = CliRunner().invoke(main, ["run", "--ref", ref, "--reads", one, "--output-vcf", out, "--model-type",
                                               "pacbio", "--regions", "chr1:2,001-22,000", "--num-shards", "1", *extra])
        assert result.exit_code == 0, result.output
        outputs[name] = caplog.text
    assert "phasing tagged only" in outputs["diploid"] and "phasing tagged only" not in outputs["haploid"]
    # the workflow's tagged pass: make-examples of whatshap's (here: no) tags, told the sample's haploid contigs
    for name, extra in (("diploid", []), ("haploid", ["--haploid-contigs", "chr1"])):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="dvcall"):
            result = CliRunner().invoke(main, ["make-examples", "--ref", ref, "--reads", one, "--examples",
                                               str(tmp_path / f"{name}.tfrecord.gz"), "--model-type", "pacbio",
                                               "--regions", "chr1:2,001-22,000", "--no-phase-reads", *extra])
        assert result.exit_code == 0, result.output
        outputs[name] = caplog.text
    assert "carry an HP tag" in outputs["diploid"] and "carry an HP tag" not in outputs["haploid"]


def test_a_haploid_contig_the_regions_do_not_call_is_said(tmp_path, caplog):
    """hostile20: --haploid-contigs chrY with --regions on chr1 did nothing, and nothing said so."""
    import random

    from builders import header_for, make_read, write_bam, write_fasta
    from deepvariant_py.cli.main import main
    rng = random.Random(5)
    seq = "".join(rng.choice("ACGT") for _ in range(3000))
    ref = write_fasta(tmp_path / "ref.fa", {"chr1": seq, "chrY": seq[:1000]})
    header = header_for("chr1", 3000, more=[("chrY", 1000)])
    bam = write_bam(tmp_path / "r.bam", [make_read(f"r{i}", 100 + 10 * i, "100M", seq[100 + 10 * i:200 + 10 * i], header=header)
                                         for i in range(100)], header)
    par = tmp_path / "par.bed"
    par.write_text("chrY\t0\t100\n")
    with caplog.at_level(logging.INFO, logger="dvcall"):
        result = CliRunner().invoke(main, ["run", "--ref", ref, "--reads", bam, "--output-vcf", str(tmp_path / "o.vcf.gz"),
                                           "--regions", "chr1:101-1,000", "--haploid-contigs", "chrY", "--par-regions",
                                           str(par), "--num-shards", "1"])
    assert result.exit_code == 0, result.output
    assert "--haploid-contigs chrY: --regions calls nothing there" in caplog.text


def _blocks(path):
    import pysam
    with pysam.VariantFile(path) as vcf:
        return [(r.pos, r.stop, r.samples[0]["GQ"], r.samples[0]["MIN_DP"]) for r in vcf if r.alts == ("<*>",)]


def test_the_gvcf_blocks_of_a_haploid_contig_take_the_haploid_confidence(tmp_path):
    from deepvariant_py.cli.main import main
    calls, blocks = os.path.join(GOLDEN, "calls.jsonl.gz"), os.path.join(GOLDEN, "gvcf_blocks.tsv.gz")
    par = tmp_path / "par.bed"
    par.write_text("chr20\t10000000\t10004000\n")

    def gvcf(name, *flags):
        out = tmp_path / f"{name}.vcf.gz"
        result = CliRunner().invoke(main, ["postprocess", "--ref", REF, "--calls", calls, "--gvcf-blocks", blocks, "--output-vcf",
                                           str(out), "--output-gvcf", str(tmp_path / f"{name}.g.vcf.gz"), "--quiet", *flags])
        assert result.exit_code == 0, result.output
        return _blocks(str(tmp_path / f"{name}.g.vcf.gz"))

    diploid, haploid = gvcf("diploid"), gvcf("haploid", "--haploid-contigs", "chr20", "--par-regions", str(par))

    def gq_at(blocks):
        return {pos: gq for start, end, gq, _ in blocks for pos in range(start, end + 1)}

    before, after = gq_at(diploid), gq_at(haploid)
    assert before.keys() == after.keys()  # the same positions, blocked otherwise
    inside = [p for p in before if p <= 10_004_000]
    outside = [p for p in before if p > 10_004_000]
    assert inside and outside and all(after[p] == before[p] for p in inside)  # the PAR keeps its diploid confidence
    assert all(after[p] >= before[p] for p in outside)
    low = [p for p in outside if 0 < before[p] < 40]  # a few reads: the het hypothesis held the diploid GQ down
    assert low and all(after[p] == 50 for p in low if before[p] >= 6)
    assert len(haploid) < len(diploid)  # GQ 50 nearly everywhere: fewer, longer blocks


def test_mostly_haploid_counts_the_called_bases_outside_the_pars():
    from deepvariant_py.ploidy import mostly_haploid
    par = HaploidRegions(frozenset({"chrX"}), RegionSet([Region("chrX", 0, 700)]))
    assert mostly_haploid([Region("chrX", 0, 1000)], HaploidRegions(frozenset({"chrX"})))
    assert not mostly_haploid([Region("chrX", 0, 1000)], par)  # 300 of 1,000 bases have one copy
    assert mostly_haploid([Region("chrX", 0, 2000), Region("chr1", 0, 500)], par)  # 1,300 of 2,500
    assert not mostly_haploid([Region("chrX", 0, 1000)], None) and not mostly_haploid([], par)


def test_haploid_blocks_keep_their_own_values_and_stay_apart_from_the_pars():
    """hostile21: blocks were joined before they were cut around the variants, so a haploid block (a diploid ./.
    position at a candidate turns hom-ref) carried the MIN_DP of positions beyond the variant; and a haploid piece
    joined a PAR piece of the same GQ bin, taking its diploid het PL."""
    from deepvariant_py.gvcf import gvcf_records
    from deepvariant_py.vcf import VcfRecord
    fetch = lambda contig, s, e: "A" * (e - s)  # noqa: E731
    snp = VcfRecord(contig="chrX", start=10, ref="A", alts=["G"], qual=30.0, filter="PASS", genotype=(1, 1), gq=30, depth=5,
                    allele_depths=[1, 4], vafs=[0.8], pl=[60, 99, 0])
    raw = [RefBlock("chrX", 0, 10, 46, 30, (0, 90, 900)), RefBlock("chrX", 10, 11, 0, 5, (20, 0, 9), False),
           RefBlock("chrX", 11, 20, 46, 30, (0, 90, 900)), RefBlock("chrX", 20, 30, 46, 28, (0, 84, 840))]
    regions = HaploidRegions(frozenset({"chrX"}), RegionSet([Region("chrX", 20, 30)]))
    out = [(r.start, r.end, r.min_dp, tuple(r.pl)) for _, r in gvcf_records([snp], haploid_blocks(raw, regions), {"chrX": 0}, fetch)
           if r.alts == ["<*>"]]
    assert out == [(0, 10, 30, (0, HET_PL, 900)), (11, 20, 30, (0, HET_PL, 900)), (20, 30, 28, (0, 84, 840))]
