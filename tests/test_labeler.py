"""Tests for the haplotype labeler: equivalent representations must get the truth's genotype."""

from __future__ import annotations

import random
from pathlib import Path

import pysam
import pytest

from deepvariant_py.errors import InputError
from deepvariant_py.labeler import (
    Variant,
    label_for_alt_subset,
    label_genotypes,
    label_genotypes_with_stats,
    read_truth,
)


def _filler(n: int, seed: int) -> str:
    """Non-repetitive-ish random bases so features below are the only repeats that matter."""
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(n))


HOMOPOLYMER = "GAAAAAAC"  # G, six A, C
REPEAT = "TCACACACACAG"  # T, (CA)x5, G
HP = 40
REP = 100
SNP_AREA = 160
BIG = 260
REF = (
    _filler(HP, 1)
    + HOMOPOLYMER
    + _filler(REP - HP - len(HOMOPOLYMER), 2)
    + REPEAT
    + _filler(400 - REP - len(REPEAT), 3)
)
assert REF[HP : HP + len(HOMOPOLYMER)] == HOMOPOLYMER
assert REF[REP : REP + len(REPEAT)] == REPEAT


def ref_fetch(start: int, end: int) -> str:
    """The contig is the module-level REF string."""
    return REF[start:end]


def _other(base: str, k: int = 0) -> str:
    """The k-th base that differs from `base`, to build SNP alts without caring what REF holds."""
    return [b for b in "ACGT" if b != base][k]


def _snp(pos: int, k: int = 0) -> Variant:
    """A bi-allelic SNP candidate at pos."""
    return Variant(pos, REF[pos], (_other(REF[pos], k),))


# ---------------------------------------------------------------------------- SNPs


@pytest.mark.parametrize("gt", [(0, 1), (1, 1)])
def test_snp_het_and_hom(gt: tuple[int, int]) -> None:
    cand = _snp(SNP_AREA)
    truth = Variant(cand.start, cand.ref, cand.alts, gt)
    assert label_genotypes([cand], [truth], ref_fetch) == [gt]


def test_candidate_absent_from_truth_is_hom_ref() -> None:
    near = _snp(SNP_AREA)  # same group as the truth, different position
    wrong_allele = _snp(SNP_AREA + 4, k=1)  # truth position, different base
    far = _snp(SNP_AREA + 90)  # its own group without truth
    truth = Variant(SNP_AREA + 4, REF[SNP_AREA + 4], (_other(REF[SNP_AREA + 4], 0),), (0, 1))
    labels, stats = label_genotypes_with_stats([near, wrong_allele, far], [truth], ref_fetch)
    assert labels == [(0, 0), (0, 0), (0, 0)]
    assert stats.n_truth_alleles == 1 and stats.n_truth_alleles_missed == 1


def test_partial_match_keeps_the_matching_candidate() -> None:
    a, b = SNP_AREA, SNP_AREA + 6
    cands = [_snp(a), _snp(b, k=2)]
    truths = [
        Variant(a, REF[a], (_other(REF[a]),), (0, 1)),
        Variant(b, REF[b], (_other(REF[b], 0),), (0, 1)),  # candidate has another base
    ]
    labels, stats = label_genotypes_with_stats(cands, truths, ref_fetch)
    assert labels == [(0, 1), (0, 0)]
    assert stats.n_truth_alleles_missed == 1


def test_two_truth_hets_and_a_hom() -> None:
    a, b, c = SNP_AREA, SNP_AREA + 3, SNP_AREA + 8
    cands = [_snp(a), _snp(b), _snp(c)]
    truths = [
        Variant(a, REF[a], cands[0].alts, (0, 1)),
        Variant(b, REF[b], cands[1].alts, (1, 1)),
        Variant(c, REF[c], cands[2].alts, (0, 1)),
    ]
    assert label_genotypes(cands, truths, ref_fetch) == [(0, 1), (1, 1), (0, 1)]


# ---------------------------------------------------------------------------- indels


def test_homopolymer_deletion_left_vs_right_aligned() -> None:
    cand = Variant(HP, "GA", ("G",))  # left-aligned: anchor is the G before the run
    truth = Variant(HP + 5, "AA", ("A",), (0, 1))  # right-shifted inside the run
    assert label_genotypes([cand], [truth], ref_fetch) == [(0, 1)]


def test_insertion_with_different_anchor() -> None:
    cand = Variant(REP, "T", ("TCA",))  # left-aligned, anchored on the T
    truth_left_anchor = Variant(REP + 10, "A", ("ACA",), (1, 1))  # right end of the repeat
    truth_right_anchor = Variant(REP + 11, "G", ("CAG",), (0, 1))  # padded on the right
    assert label_genotypes([cand], [truth_left_anchor], ref_fetch) == [(1, 1)]
    assert label_genotypes([cand], [truth_right_anchor], ref_fetch) == [(0, 1)]


def test_multiallelic_candidate_vs_split_truth_records() -> None:
    cand = Variant(HP, "GAA", ("G", "GA"))  # del AA and del A at one position
    truths = [
        Variant(HP, "GAA", ("G",), (0, 1)),
        Variant(HP + 4, "AA", ("A",), (0, 1)),  # del A, shifted right
    ]
    assert label_genotypes([cand], truths, ref_fetch) == [(1, 2)]


# ---------------------------------------------------------------------------- multi-allelic


def test_truth_het_alt_maps_to_candidate_alt_order() -> None:
    pos = SNP_AREA
    x, y, z = _other(REF[pos], 0), _other(REF[pos], 1), _other(REF[pos], 2)
    truth = Variant(pos, REF[pos], (x, y), (1, 2))
    assert label_genotypes([Variant(pos, REF[pos], (y, x))], [truth], ref_fetch) == [(1, 2)]
    assert label_genotypes([Variant(pos, REF[pos], (z, y, x))], [truth], ref_fetch) == [(2, 3)]
    assert label_genotypes([Variant(pos, REF[pos], (z, x))], [truth], ref_fetch) == [(0, 2)]


@pytest.mark.parametrize("truth_alt_k, expected", [(0, (0, 1)), (1, (0, 2))])
def test_candidate_multiallelic_truth_has_one_alt(truth_alt_k: int, expected: tuple[int, int]) -> None:
    pos = SNP_AREA
    cand = Variant(pos, REF[pos], (_other(REF[pos], 0), _other(REF[pos], 1)))
    truth = Variant(pos, REF[pos], (_other(REF[pos], truth_alt_k),), (0, 1))
    assert label_genotypes([cand], [truth], ref_fetch) == [expected]


# ---------------------------------------------------------------------------- MNPs / complex


@pytest.mark.parametrize("gt, expected", [((0, 1), (0, 1)), ((1, 1), (1, 1))])
def test_truth_mnp_vs_two_snp_candidates(gt: tuple[int, int], expected: tuple[int, int]) -> None:
    m = SNP_AREA + 20
    alt = _other(REF[m]) + _other(REF[m + 1])
    truth = Variant(m, REF[m : m + 2], (alt,), gt)
    cands = [_snp(m), _snp(m + 1)]
    assert label_genotypes(cands, [truth], ref_fetch) == [expected, expected]


def test_mnp_and_its_snps_all_candidates_prefers_fewer_hom_ref_calls() -> None:
    """DeepVariant's ranking: among exact matches, fewest candidates left 0/0 wins, so the SNPs win."""
    m = SNP_AREA + 20
    alt = _other(REF[m]) + _other(REF[m + 1])
    truth = Variant(m, REF[m : m + 2], (alt,), (0, 1))
    cands = [Variant(m, REF[m : m + 2], (alt,)), _snp(m), _snp(m + 1)]
    assert label_genotypes(cands, [truth], ref_fetch) == [(0, 0), (0, 1), (0, 1)]


def test_two_candidates_together_make_one_truth_insertion() -> None:
    """Complex case: +CACA in the repeat is matched by two +CA candidates on the same haplotype.

    Both candidates get 0/1 (phased together) because their combined haplotype equals
    the truth haplotype; a positional labeler would have labeled both 0/0.
    """
    truth = Variant(REP, "T", ("TCACA",), (0, 1))
    cands = [Variant(REP, "T", ("TCA",)), Variant(REP + 4, "A", ("ACA",))]
    labels, stats = label_genotypes_with_stats(cands, [truth], ref_fetch)
    assert labels == [(0, 1), (0, 1)]
    assert stats.n_truth_alleles_missed == 0


def test_half_of_a_truth_insertion_is_not_a_match() -> None:
    """With only +CA as candidate, +CACA cannot be built: the candidate is 0/0 and the truth a FN."""
    truth = Variant(REP, "T", ("TCACA",), (0, 1))
    labels, stats = label_genotypes_with_stats([Variant(REP, "T", ("TCA",))], [truth], ref_fetch)
    assert labels == [(0, 0)]
    assert stats.n_truth_alleles_missed == 1


def test_two_deletions_make_one_truth_deletion() -> None:
    truth = Variant(REP, "TCACA", ("T",), (1, 1))
    cands = [Variant(REP, "TCA", ("T",)), Variant(REP + 6, "ACA", ("A",))]
    assert label_genotypes(cands, [truth], ref_fetch) == [(1, 1), (1, 1)]


# ---------------------------------------------------------------------------- fallback / errors


def test_large_group_falls_back_to_positional_matching() -> None:
    positions = [BIG + 3 * i for i in range(8)]
    cands = [Variant(p, REF[p], tuple(_other(REF[p], k) for k in range(3))) for p in positions]
    p0, p1, p2 = positions[0], positions[1], positions[2]
    truths = [
        Variant(p0, REF[p0], (_other(REF[p0], 1),), (0, 1)),
        Variant(p1, REF[p1], (_other(REF[p1], 2),), (1, 1)),
        # same SNP written with a trailing reference base: positional trimming must see it
        Variant(p2, REF[p2 : p2 + 2], (_other(REF[p2], 0) + REF[p2 + 1],), (0, 1)),
    ]
    labels, stats = label_genotypes_with_stats(cands, truths, ref_fetch)
    assert stats.n_positional_groups == 1  # not enumerated (4^8 x phasings would take minutes)
    assert labels == [(0, 2), (3, 3), (0, 1)] + [(0, 0)] * 5


def test_eight_biallelic_candidates_are_enumerated() -> None:
    positions = [BIG + 3 * i for i in range(8)]
    cands = [_snp(p) for p in positions]
    truths = [Variant(p, REF[p], (_other(REF[p]),), (0, 1)) for p in positions[::2]]
    labels, stats = label_genotypes_with_stats(cands, truths, ref_fetch)
    assert stats.n_positional_groups == 0
    assert labels == [(0, 1), (0, 0)] * 4


def test_truth_ref_mismatch_is_an_input_error() -> None:
    pos = SNP_AREA
    bad_ref = _other(REF[pos])
    truth = Variant(pos, bad_ref, (REF[pos],), (0, 1))
    with pytest.raises(InputError, match="disagree"):
        label_genotypes([_snp(pos)], [truth], ref_fetch)


def test_truth_genotype_beyond_its_alts_is_an_input_error() -> None:
    truth = Variant(SNP_AREA, REF[SNP_AREA], (_other(REF[SNP_AREA]),), (0, 2))
    with pytest.raises(InputError, match="alt allele"):
        label_genotypes([_snp(SNP_AREA)], [truth], ref_fetch)


def test_no_candidates_or_no_truth() -> None:
    assert label_genotypes([], [Variant(5, REF[5], (_other(REF[5]),), (0, 1))], ref_fetch) == []
    assert label_genotypes([_snp(5)], [], ref_fetch) == [(0, 0)]


# ---------------------------------------------------------------------------- alt subsets


@pytest.mark.parametrize(
    "gt, subset, label",
    [
        ((0, 1), (0,), 1), ((0, 1), (1,), 0), ((0, 1), (0, 1), 1),
        ((1, 1), (0,), 2), ((1, 1), (1,), 0), ((1, 1), (0, 1), 2),
        ((1, 2), (0,), 1), ((1, 2), (1,), 1), ((1, 2), (0, 1), 2),
        ((0, 0), (0, 1), 0),
    ],
)
def test_label_for_alt_subset(gt: tuple[int, int], subset: tuple[int, ...], label: int) -> None:
    assert label_for_alt_subset(gt, subset) == label


# ---------------------------------------------------------------------------- read_truth

VCF_TEXT = """\
##fileformat=VCFv4.2
##contig=<ID=chr1,length=1000>
##contig=<ID=chr2,length=1000>
##FILTER=<ID=LowQual,Description="low quality">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1
chr1\t10\t.\tA\tG\t.\tPASS\t.\tGT\t0/1
chr1\t20\t.\tC\tT\t.\tLowQual\t.\tGT\t1/1
chr1\t30\t.\tG\tA\t.\t.\t.\tGT\t1|1
chr1\t40\t.\tT\tC\t.\tPASS\t.\tGT\t0/0
chr1\t50\t.\tT\tC\t.\tPASS\t.\tGT\t./.
chr1\t60\t.\tACG\tA,AG\t.\tPASS\t.\tGT\t2|1
chr1\t70\t.\tc\tt\t.\tPASS\t.\tGT\t1
chr1\t200\t.\tA\tG\t.\tPASS\t.\tGT\t0/1
chr2\t10\t.\tA\tG\t.\tPASS\t.\tGT\t0/1
"""


@pytest.fixture
def truth_vcf(tmp_path: Path) -> str:
    path = tmp_path / "truth.vcf"
    path.write_text(VCF_TEXT)
    return pysam.tabix_index(str(path), preset="vcf", force=True)


def test_read_truth_filters_and_genotypes(truth_vcf: str) -> None:
    got = read_truth(truth_vcf, "chr1", 0, 100)
    assert got == [
        Variant(9, "A", ("G",), (0, 1)),
        Variant(29, "G", ("A",), (1, 1)),
        Variant(59, "ACG", ("A", "AG"), (1, 2)),
        Variant(69, "C", ("T",), (1, 1)),  # haploid GT 1 counts as two copies
    ]


def test_read_truth_overlap_and_missing_contig(truth_vcf: str) -> None:
    # the deletion at 0-based 59..62 overlaps [61, 65)
    assert [t.start for t in read_truth(truth_vcf, "chr1", 61, 65)] == [59]
    assert read_truth(truth_vcf, "chr1", 100, 150) == []
    assert [t.start for t in read_truth(truth_vcf, "chr2", 0, 1000)] == [9]
    assert read_truth(truth_vcf, "chrX", 0, 1000) == []


def test_read_truth_unindexed_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.vcf"
    path.write_text(VCF_TEXT)
    with pytest.raises(InputError):
        read_truth(str(path), "chr1", 0, 100)
    with pytest.raises(InputError):
        read_truth(str(tmp_path / "missing.vcf.gz"), "chr1", 0, 100)


def test_a_truth_vcf_of_another_contig_naming_is_refused_before_any_example(tmp_path):
    """Truth named '20' against a 'chr20' reference would label every example hom-ref, silently."""
    import os

    from click.testing import CliRunner

    from deepvariant_py.cli.main import main
    testdata = os.path.join(os.path.dirname(__file__), "..", "testdata")
    truth = os.path.join(testdata, "HG001.truth.chr20_10.00-10.02Mb.vcf.gz")
    renamed = str(tmp_path / "truth20.vcf.gz")
    with pysam.VariantFile(truth) as src:
        header = pysam.VariantHeader()
        for line in str(src.header).splitlines()[1:-1]:
            if not line.startswith("##contig"):
                header.add_line(line)
        header.contigs.add("20", length=63025520)
        for sample in src.header.samples:
            header.add_sample(sample)
        with pysam.VariantFile(renamed, "wz", header=header) as out:
            for rec in src:
                new = out.new_record(contig="20", start=rec.start, stop=rec.stop, alleles=rec.alleles)
                new.samples[0]["GT"] = rec.samples[0]["GT"]
                new.samples[0].phased = rec.samples[0].phased
                out.write(new)
    pysam.tabix_index(renamed, preset="vcf", force=True)
    out = tmp_path / "ex.tfrecord.gz"
    result = CliRunner().invoke(main, [
        "make-examples", "--ref", os.path.join(testdata, "ucsc.hg19.chr20.unittest.fasta.gz"),
        "--reads", os.path.join(testdata, "NA12878.chr20_10.00-10.02Mb.bam"), "--examples", str(out),
        "--regions", "chr20:10,000,000-10,002,000", "--truth-vcf", renamed,
        "--confident-bed", os.path.join(testdata, "NA12878_confident.chr20_10.000-10.011Mb.bed"), "--quiet"])
    assert result.exit_code == 1 and "names its contigs unlike the reference (it has '20', the reference 'chr20')" in result.output
    assert not out.exists()


def _indexed(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return pysam.tabix_index(str(path), preset="vcf", force=True)


def test_a_truth_of_several_samples_or_without_gt_is_refused(tmp_path: Path) -> None:
    """Column 1 of a multi-sample truth (another individual) or records without GT labelled every example hom-ref."""
    two = VCF_TEXT.replace("FORMAT\tS1", "FORMAT\tOTHER\tS1")
    two = "\n".join(line if line.startswith("#") or not line else line + "\t0/0" for line in two.split("\n"))
    with pytest.raises(InputError, match=r"has 2 samples \(OTHER, S1\): .*bcftools view -s NAME"):
        read_truth(_indexed(tmp_path, "two.vcf", two), "chr1", 0, 100)
    no_gt = "\n".join(line for line in VCF_TEXT.split("\n") if "ID=GT" not in line)
    no_gt = no_gt.replace("FORMAT\tS1", "FORMAT\tS1").replace("\tGT\t", "\tDP\t").replace(
        '##FILTER=<ID=LowQual,Description="low quality">',
        '##FILTER=<ID=LowQual,Description="low quality">\n##FORMAT=<ID=DP,Number=1,Type=String,Description="d">')
    with pytest.raises(InputError, match="has no GT field"):
        read_truth(_indexed(tmp_path, "nogt.vcf", no_gt), "chr1", 0, 100)


def test_a_symbolic_truth_allele_is_no_variant_and_its_span_is_reported(tmp_path: Path) -> None:
    text = VCF_TEXT.replace("##FILTER=", "##ALT=<ID=DEL,Description=\"deletion\">\n##INFO=<ID=END,Number=1,Type=Integer,"
                            "Description=\"end\">\n##FILTER=", 1)
    text = text.replace("chr2\t10", "chr1\t300\t.\tA\t<DEL>\t.\tPASS\tEND=350\tGT\t0/1\n"
                        "chr1\t400\t.\tA\t<DEL>\t.\tPASS\tEND=420\tGT\t0/0\nchr2\t10")
    from deepvariant_py.labeler import open_truth, truth_in

    with open_truth(_indexed(tmp_path, "sym.vcf", text)) as vcf:
        spans: list = []
        assert truth_in(vcf, "chr1", 250, 500, spans) == []
    assert spans == [(299, 350)]  # the 0/0 one carries no symbolic allele


def test_make_examples_says_its_labels_and_leaves_candidates_under_a_symbolic_truth_allele_unlabelled(tmp_path, caplog):
    import logging
    import os

    from click.testing import CliRunner

    from deepvariant_py.cli.main import main
    from deepvariant_py.tfrecord import parse_example, read_records
    testdata = os.path.join(os.path.dirname(__file__), "..", "testdata")
    truth = os.path.join(testdata, "HG001.truth.chr20_10.00-10.02Mb.vcf.gz")
    symbolic = str(tmp_path / "sym.vcf.gz")
    with pysam.VariantFile(truth) as src:
        header = src.header.copy()
        header.add_line('##ALT=<ID=DEL,Description="Deletion">')
        with pysam.VariantFile(symbolic, "wz", header=header) as out:
            for rec in src:
                rec.translate(out.header)
                if rec.pos == 10004769:  # a het deletion, written as <DEL>
                    rec.alleles = (rec.ref[0], "<DEL>")
                out.write(rec)
    pysam.tabix_index(symbolic, preset="vcf", force=True)

    def make(truth_vcf, name):
        out = tmp_path / name
        args = ["make-examples", "--ref", os.path.join(testdata, "ucsc.hg19.chr20.unittest.fasta.gz"),
                "--reads", os.path.join(testdata, "NA12878.chr20_10.00-10.02Mb.bam"), "--examples", str(out),
                "--regions", "chr20:10,004,000-10,006,000", "--truth-vcf", truth_vcf,
                "--confident-bed", os.path.join(testdata, "NA12878_confident.chr20_10.000-10.011Mb.bed")]
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="dvcall"):
            result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        starts = [int(parse_example(r)["locus"].decode().split(":")[1].split("-")[0]) - 1 for r in read_records(str(out))]
        return result.output + "".join(r.getMessage() for r in caplog.records), starts

    plain, plain_starts = make(truth, "plain.tfrecord.gz")
    sym, sym_starts = make(symbolic, "sym.tfrecord.gz")
    assert "labels: " in plain and "symbolic" not in plain
    assert "1 truth record(s) have a symbolic alt" in sym
    assert 10004768 in plain_starts and 10004768 not in sym_starts  # no example labelled hom-ref there
    assert len(sym_starts) == len(plain_starts) - 1


def test_training_summary_warns_of_a_truth_that_matched_nothing():
    from deepvariant_py.make_examples import MakeExamplesStats, training_summary

    line, warnings = training_summary(MakeExamplesStats(examples=50, labels={0: 1, 1: 13, 2: 36}))
    assert line == "labels: 1 hom-ref, 13 het, 36 hom-alt" and warnings == []
    _, warnings = training_summary(MakeExamplesStats(examples=50, labels={0: 50}))
    assert len(warnings) == 1 and "all 50 examples are labelled hom-ref" in warnings[0]
    _, warnings = training_summary(MakeExamplesStats(examples=0, outside_confident=80))
    assert len(warnings) == 1 and "none of the 80 candidates lies inside --confident-bed" in warnings[0]
