"""Tests of deepvariant_py.evaluate on tiny hand-written VCFs and a tiny reference."""

import random

import pysam
import pytest

from deepvariant_py.errors import InputError
from deepvariant_py.evaluate import EvalResult, TypeCounts, evaluate

CONTIG = "chr1"


def _make_sequence() -> str:
    rng = random.Random(7)
    seq = [rng.choice("ACGT") for _ in range(300)]
    # A homopolymer of six A at 1-based positions 101-106, flanked by C and G.
    seq[99] = "C"
    seq[100:106] = "AAAAAA"
    seq[106] = "G"
    # Two distinct bases at 150-151 for an MNP, different from what we put there.
    seq[149:151] = "AC"
    return "".join(seq)


SEQ = _make_sequence()


def base(pos: int, n: int = 1) -> str:
    """Reference bases at 1-based ``pos``."""
    return SEQ[pos - 1:pos - 1 + n]


def other(b: str, k: int = 1) -> str:
    """A base different from ``b`` (k-th alternative)."""
    return [x for x in "ACGT" if x != b][k - 1]


@pytest.fixture
def ref(tmp_path):
    plain = tmp_path / "ref.fa"
    lines = [SEQ[i:i + 60] for i in range(0, len(SEQ), 60)]
    plain.write_text(f">{CONTIG}\n" + "\n".join(lines) + "\n")
    gz = str(tmp_path / "ref.fa.gz")
    pysam.tabix_compress(str(plain), gz)
    pysam.faidx(gz)  # writes .fai and .gzi
    return gz


HEADER = (
    "##fileformat=VCFv4.2\n"
    f"##contig=<ID={CONTIG},length={len(SEQ)}>\n"
    '##FILTER=<ID=LowQual,Description="low quality">\n'
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tSAMPLE\n"
)


def write_vcf(tmp_path, name, records, index=False):
    """records: (pos, ref, alt, gt) or (pos, ref, alt, gt, filter). Returns the path."""
    lines = []
    for rec in sorted(records):
        pos, r, a, gt = rec[:4]
        filt = rec[4] if len(rec) > 4 else "PASS"
        lines.append(f"{CONTIG}\t{pos}\t.\t{r}\t{a}\t50\t{filt}\t.\tGT\t{gt}\n")
    path = tmp_path / name
    path.write_text(HEADER + "".join(lines))
    if index:
        return pysam.tabix_index(str(path), preset="vcf", force=True)
    return str(path)


def run(tmp_path, ref, truth, query, **kwargs):
    t = write_vcf(tmp_path, "truth.vcf", truth)
    q = write_vcf(tmp_path, "query.vcf", query)
    return evaluate(t, q, ref, **kwargs)


def counts(c: TypeCounts):
    return (c.tp, c.fp, c.fn)


def test_reference_layout():
    assert base(100) == "C" and base(101, 6) == "AAAAAA" and base(107) == "G"
    assert base(150, 2) == "AC"


def test_perfect_match(tmp_path, ref):
    records = [
        (20, base(20), other(base(20)), "0/1"),
        (40, base(40), other(base(40)), "1/1"),
        (100, base(100, 2), base(100), "0/1"),          # deletion of one A
        (200, base(200), base(200) + "TT", "1|0"),      # insertion
    ]
    res = run(tmp_path, ref, records, records)
    assert counts(res.snp) == (2, 0, 0)
    assert counts(res.indel) == (2, 0, 0)
    assert res.snp.f1 == 1.0 and res.indel.f1 == 1.0


def test_indexed_and_plain_vcfs_agree(tmp_path, ref):
    truth = [(20, base(20), other(base(20)), "0/1"), (60, base(60), other(base(60)), "1/1")]
    query = [(20, base(20), other(base(20)), "0/1"), (80, base(80), other(base(80)), "0/1")]
    t = write_vcf(tmp_path, "t.vcf", truth, index=True)
    q = write_vcf(tmp_path, "q.vcf", query, index=False)
    assert t.endswith(".vcf.gz")
    for regions in (None, [(CONTIG, 0, len(SEQ))]):
        res = evaluate(t, q, ref, regions=regions)
        assert counts(res.snp) == (1, 1, 1)


def test_wrong_genotype_is_one_fp_and_one_fn(tmp_path, ref):
    alt = other(base(20))
    res = run(tmp_path, ref, [(20, base(20), alt, "0/1")], [(20, base(20), alt, "1/1")])
    assert counts(res.snp) == (0, 1, 1)
    assert res.snp.f1 == 0.0


def test_wrong_alt_is_fp_and_fn(tmp_path, ref):
    res = run(tmp_path, ref, [(20, base(20), other(base(20), 1), "0/1")],
              [(20, base(20), other(base(20), 2), "0/1")])
    assert counts(res.snp) == (0, 1, 1)


def test_right_shifted_deletion_in_homopolymer_matches(tmp_path, ref):
    # Truth: left-aligned, anchored on the C before AAAAAA. Query: the last A deleted.
    truth = [(100, "CA", "C", "0/1")]
    query = [(105, "AA", "A", "0/1")]
    res = run(tmp_path, ref, truth, query)
    assert counts(res.indel) == (1, 0, 0)


def test_right_shifted_insertion_in_homopolymer_matches(tmp_path, ref):
    truth = [(100, "C", "CAA", "1/1")]
    query = [(106, "A", "AAA", "1/1")]
    assert counts(run(tmp_path, ref, truth, query).indel) == (1, 0, 0)


def test_padded_deletion_is_trimmed(tmp_path, ref):
    # The same deletion written with extra shared context on both sides.
    truth = [(100, "CA", "C", "0/1")]
    query = [(99, base(99) + "CAAAAAAG", base(99) + "CAAAAAG", "0/1")]
    assert counts(run(tmp_path, ref, truth, query).indel) == (1, 0, 0)


def test_multiallelic_het_vs_two_biallelic_records(tmp_path, ref):
    b = base(30)
    truth = [(30, b, f"{other(b, 1)},{other(b, 2)}", "1/2")]
    query = [(30, b, other(b, 1), "0/1"), (30, b, other(b, 2), "0/1")]
    res = run(tmp_path, ref, truth, query)
    assert counts(res.snp) == (2, 0, 0)


def test_multiallelic_indels_are_split_and_left_aligned(tmp_path, ref):
    # In the A homopolymer: a deletion of two A and an insertion of one A, both
    # written at its start; they left-align onto the C before it.
    truth = [(101, "AAAAAA", "AAAA,AAAAAAA", "1/2")]
    query = [(100, "CAA", "C", "0/1"), (100, "C", "CA", "1/0")]
    res = run(tmp_path, ref, truth, query)
    assert counts(res.indel) == (2, 0, 0)


def test_split_hom_records_count_as_hom(tmp_path, ref):
    b = base(40)
    truth = [(40, b, other(b), "1/1")]
    query = [(40, b, other(b), "0/1"), (40, b, other(b), "1/0")]
    assert counts(run(tmp_path, ref, truth, query).snp) == (1, 0, 0)


def test_mnp_is_decomposed_into_snps(tmp_path, ref):
    mnp = [(150, "AC", "GT", "1/1")]
    snps = [(150, "A", "G", "1/1"), (151, "C", "T", "1/1")]
    res = run(tmp_path, ref, mnp, snps)
    assert counts(res.snp) == (2, 0, 0)
    assert counts(res.indel) == (0, 0, 0)
    res = run(tmp_path, ref, snps, mnp)
    assert counts(res.snp) == (2, 0, 0)


def test_mnp_with_unchanged_middle_base(tmp_path, ref):
    r = base(150, 3)
    alt = other(r[0]) + r[1] + other(r[2])
    res = run(tmp_path, ref, [(150, r, alt, "0/1")],
              [(150, r[0], alt[0], "0/1"), (152, r[2], alt[2], "0/1")])
    assert counts(res.snp) == (2, 0, 0)


def test_complex_variant_is_atomised(tmp_path, ref):
    # REF 3 bases -> ALT 1 base, no shared bases: a SNP on the first base plus a
    # two-base deletion anchored on it (as `bcftools norm -a` writes it).
    pos = next(p for p in range(200, 290) if len(set(base(p, 3))) == 3)
    r = base(pos, 3)
    a = next(x for x in "ACGT" if x not in r)
    query = [(pos, r, a, "0/1")]
    truth = [(pos, r[0], a, "0/1"), (pos, r, r[0], "0/1")]
    res = run(tmp_path, ref, truth, query)
    assert counts(res.snp) == (1, 0, 0)
    assert counts(res.indel) == (1, 0, 0)


def test_region_restriction_and_boundaries(tmp_path, ref):
    truth = [(20, base(20), other(base(20)), "0/1"), (200, base(200), other(base(200)), "0/1")]
    query = [(20, base(20), other(base(20)), "0/1"), (250, base(250), other(base(250)), "0/1")]
    res = run(tmp_path, ref, truth, query)
    assert counts(res.snp) == (1, 1, 1)
    res = run(tmp_path, ref, truth, query, regions=[(CONTIG, 0, 100)])
    assert counts(res.snp) == (1, 0, 0)
    # 0-based half-open: POS 20 is 0-based 19, inside [19, 20) and outside [20, 30).
    res = run(tmp_path, ref, truth, query, regions=[(CONTIG, 19, 20)])
    assert counts(res.snp) == (1, 0, 0)
    res = run(tmp_path, ref, truth, query, regions=[(CONTIG, 20, 30)])
    assert counts(res.snp) == (0, 0, 0)
    res = run(tmp_path, ref, truth, query, regions=[(CONTIG, 0, 100), (CONTIG, 240, 260)])
    assert counts(res.snp) == (1, 1, 0)


def test_region_uses_normalised_position(tmp_path, ref):
    # The query deletion is written at POS 105 but left-aligns to POS 100.
    truth = [(100, "CA", "C", "0/1")]
    query = [(105, "AA", "A", "0/1")]
    res = run(tmp_path, ref, truth, query, regions=[(CONTIG, 99, 100)])
    assert counts(res.indel) == (1, 0, 0)
    res = run(tmp_path, ref, truth, query, regions=[(CONTIG, 100, 110)])
    assert counts(res.indel) == (0, 0, 0)


def test_bed_restriction(tmp_path, ref):
    truth = [(20, base(20), other(base(20)), "0/1"), (200, base(200), other(base(200)), "0/1")]
    query = [(250, base(250), other(base(250)), "0/1")]
    bed = tmp_path / "conf.bed"
    bed.write_text(f"track name=x\n{CONTIG}\t190\t260\n")
    res = run(tmp_path, ref, truth, query, bed=str(bed))
    assert counts(res.snp) == (0, 1, 1)
    # With regions too, an allele must be in both.
    res = run(tmp_path, ref, truth, query, bed=str(bed), regions=[(CONTIG, 0, 220)])
    assert counts(res.snp) == (0, 0, 1)
    # Regions the BED does not reach leave nothing to evaluate: an error, not a table of F1 0
    with pytest.raises(InputError, match="holds no base inside the regions: nothing to evaluate"):
        run(tmp_path, ref, truth, query, bed=str(bed), regions=[(CONTIG, 0, 190)])
    empty = tmp_path / "empty.bed"
    empty.write_text("track name=x\n")
    with pytest.raises(InputError, match="holds no base: nothing to evaluate"):
        run(tmp_path, ref, truth, query, bed=str(empty))


def test_non_pass_records_are_excluded(tmp_path, ref):
    snp = (20, base(20), other(base(20)), "0/1")
    res = run(tmp_path, ref, [snp], [snp + ("LowQual",)])
    assert counts(res.snp) == (0, 0, 1)
    res = run(tmp_path, ref, [snp], [snp[:4] + (".",)])
    assert counts(res.snp) == (1, 0, 0)
    res = run(tmp_path, ref, [snp], [snp + ("LowQual",)], pass_only=False)
    assert counts(res.snp) == (1, 0, 0)


def test_reference_and_missing_genotypes(tmp_path, ref):
    s20 = (20, base(20), other(base(20)))
    s40 = (40, base(40), other(base(40)))
    s60 = (60, base(60), other(base(60)))
    truth = [s20 + ("0/1",), s40 + ("0/0",)]
    query = [s20 + ("1/.",), s40 + ("./.",), s60 + ("0/0",)]
    res = run(tmp_path, ref, truth, query)
    assert counts(res.snp) == (1, 0, 0)


def test_symbolic_alleles_are_ignored(tmp_path, ref):
    b = base(20)
    truth = [(20, b, other(b), "0/1")]
    query = [(20, b, f"{other(b)},<*>", "0/1"), (30, base(30), "<*>", "0/0")]
    assert counts(run(tmp_path, ref, truth, query).snp) == (1, 0, 0)


def test_sample_selection(tmp_path, ref):
    b = base(20)
    path = tmp_path / "two.vcf"
    path.write_text(
        HEADER.replace("\tSAMPLE\n", "\tA\tB\n")
        + f"{CONTIG}\t20\t.\t{b}\t{other(b)}\t50\tPASS\t.\tGT\t0/1\t1/1\n"
    )
    truth = write_vcf(tmp_path, "truth.vcf", [(20, b, other(b), "1/1")])
    assert counts(evaluate(truth, str(path), ref).snp) == (0, 1, 1)
    assert counts(evaluate(truth, str(path), ref, sample_query="B").snp) == (1, 0, 0)
    with pytest.raises(InputError, match="sample 'C'"):
        evaluate(truth, str(path), ref, sample_query="C")


def test_result_dict_and_table():
    res = EvalResult(snp=TypeCounts(tp=105, fp=7, fn=4), indel=TypeCounts(0, 0, 0))
    d = res.to_dict()
    assert d["snp"]["tp"] == 105 and d["snp"]["fn"] == 4
    assert d["snp"]["precision"] == pytest.approx(105 / 112)
    assert d["indel"] == {"tp": 0, "fp": 0, "fn": 0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    lines = res.table().splitlines()
    assert lines[0].split() == ["type", "TP", "FP", "FN", "precision", "recall", "F1"]
    assert lines[1].split() == ["SNP", "105", "7", "4", "0.9375", "0.9633", "0.9502"]
    assert lines[2].split() == ["INDEL", "0", "0", "0", "0.0000", "0.0000", "0.0000"]


def test_missing_files_raise_input_error(tmp_path, ref):
    vcf = write_vcf(tmp_path, "a.vcf", [(20, base(20), other(base(20)), "0/1")])
    missing = str(tmp_path / "nope.vcf.gz")
    with pytest.raises(InputError, match="truth VCF not found"):
        evaluate(missing, vcf, ref)
    with pytest.raises(InputError, match="query VCF not found"):
        evaluate(vcf, missing, ref)
    with pytest.raises(InputError, match="reference .*nope.fa does not exist"):
        evaluate(vcf, vcf, str(tmp_path / "nope.fa"))
    with pytest.raises(InputError, match="BED file not found"):
        evaluate(vcf, vcf, ref, bed=str(tmp_path / "nope.bed"))


def test_reference_without_index(tmp_path, ref):
    vcf = write_vcf(tmp_path, "a.vcf", [(20, base(20), other(base(20)), "0/1")])
    plain = tmp_path / "noindex.fa"
    plain.write_text(f">{CONTIG}\n{SEQ}\n")
    with pytest.raises(InputError, match=r"\.fai.*samtools faidx"):
        evaluate(vcf, vcf, str(plain))


def test_bad_inputs_raise_input_error(tmp_path, ref):
    vcf = write_vcf(tmp_path, "a.vcf", [(20, base(20), other(base(20)), "0/1")])
    with pytest.raises(InputError, match="not in reference"):
        evaluate(vcf, vcf, ref, regions=[("chr2", 0, 10)])
    wrong_ref = write_vcf(tmp_path, "b.vcf", [(20, other(base(20)), base(20), "0/1")])
    with pytest.raises(InputError, match="does not match the reference"):
        evaluate(vcf, wrong_ref, ref)
    other_contig = tmp_path / "c.vcf"
    other_contig.write_text(HEADER + "chr9\t20\t.\tA\tC\t50\tPASS\t.\tGT\t0/1\n")
    with pytest.raises(InputError, match="contig 'chr9'"):
        evaluate(vcf, str(other_contig), ref)
    not_vcf = tmp_path / "d.vcf"
    not_vcf.write_text("hello\n")
    with pytest.raises(InputError):
        evaluate(vcf, str(not_vcf), ref)


def test_record_spanning_two_fetch_windows_counts_once(tmp_path, ref, monkeypatch):
    import deepvariant_py.evaluate as ev

    monkeypatch.setattr(ev, "_FETCH_PAD", 0)
    deletion = (50, base(50, 80), base(50), "0/1")  # spans 0-based 49..129
    truth = write_vcf(tmp_path, "t.vcf", [deletion])            # read sequentially
    query = write_vcf(tmp_path, "q.vcf", [deletion], index=True)  # read through the index
    res = evaluate(truth, query, ref, regions=[(CONTIG, 0, 60), (CONTIG, 100, 120)])
    assert counts(res.indel) == (1, 0, 0)


def test_deletion_at_contig_start(tmp_path, ref):
    records = [(1, base(1, 2), base(2), "0/1")]
    assert counts(run(tmp_path, ref, records, records).indel) == (1, 0, 0)


def test_multiallelic_concordance_counts_only_exact_site_genotypes(tmp_path, ref):
    from deepvariant_py.evaluate import multiallelic_concordance

    b, c = base(30), base(60)
    truth = [(30, b, f"{other(b, 1)},{other(b, 2)}", "1/2"), (60, c, f"{other(c, 1)},{other(c, 2)}", "1/2"),
             (90, base(90), other(base(90), 1), "0/1")]
    query = [(30, b, f"{other(b, 2)},{other(b, 1)}", "1/2"),  # same alleles, other order: concordant
             (60, c, other(c, 1), "1/1")]  # one allele, wrong copies: discordant
    t, q = write_vcf(tmp_path, "t.vcf", truth), write_vcf(tmp_path, "q.vcf", query)
    assert multiallelic_concordance(t, q, ref) == (1, 2)


def test_sequence_context_names_homopolymers_and_tandem_repeats():
    from deepvariant_py.evaluate import sequence_context

    assert sequence_context("GCTAAAAAAGCT", 4, 1) == "homopolymer"  # inside the run
    assert sequence_context("GCTAAAAAAGCT", 9, 1) == "homopolymer"  # the base after it (1 bp slop)
    assert sequence_context("GCTAAAAAGCTT", 4, 1) == "other"  # five A: below 6
    assert sequence_context("TTGATAGATAGATACC", 2, 4) == "tandem_repeat"  # (GATA)3, 12 bp
    assert sequence_context("TTCACACACACGTT", 2, 2) == "other"  # (CA)4 + C: 9 bp, below 10
    assert sequence_context("ACGTTGCAGTCA", 5, 1) == "other"


def test_evaluate_by_context_splits_each_error_by_where_it_lies(tmp_path, ref):
    from deepvariant_py.evaluate import evaluate_by_context

    truth = [(20, base(20), other(base(20)), "0/1"), (100, base(100, 2), base(100), "0/1")]
    query = [(20, base(20), other(base(20)), "0/1"), (100, base(100, 2), base(100), "1/1")]
    t, q = write_vcf(tmp_path, "truth.vcf", truth), write_vcf(tmp_path, "query.vcf", query)
    by = evaluate_by_context(t, q, ref)
    assert counts(by["homopolymer"].indel) == (0, 1, 1)  # the A-run deletion with the wrong zygosity
    assert sum(counts(by[c].snp)[0] for c in by) == 1 and counts(by["homopolymer"].snp) == (0, 0, 0)


def test_same_haplotypes_written_differently_count_as_matched(tmp_path, ref):
    # An insertion and, 8 bases on, a deletion of as many bases (one haplotype) spell the reference with a
    # few base changes in between: a caller writing those base changes made no error (hap.py agrees).
    ins_at, del_at = 210, 218  # 1-based anchors
    hap = SEQ[:ins_at] + "GT" + SEQ[ins_at:del_at] + SEQ[del_at + 2:]
    snps = [(i + 1, SEQ[i], b, "0/1") for i, b in enumerate(hap) if b != SEQ[i]]
    assert len(hap) == len(SEQ) and 0 < len(snps) <= 10
    truth = [(ins_at, base(ins_at), base(ins_at) + "GT", "0|1"), (del_at, base(del_at, 3), base(del_at), "0|1")]
    res = run(tmp_path, ref, truth, snps)
    assert counts(res.indel) == (2, 0, 0) and counts(res.snp) == (0, 0, 0)
    # the same changes at the wrong zygosity, or one of them missing, stay errors
    res = run(tmp_path, ref, truth, [s[:3] + ("1/1",) for s in snps])
    assert counts(res.indel) == (0, 0, 2) and res.snp.fp == len(snps)
    res = run(tmp_path, ref, truth, snps[1:])
    assert counts(res.indel) == (0, 0, 2) and res.snp.fp == len(snps) - 1


def test_genotyped_sites_judge_a_record_by_the_haplotypes_it_spells(tmp_path, ref):
    from deepvariant_py.evaluate import genotyped_sites

    ins_at, del_at = 210, 218  # GG after a T cannot left-align out of the record below
    hap = SEQ[:ins_at] + "GG" + SEQ[ins_at:del_at] + SEQ[del_at + 2:]
    truth = write_vcf(tmp_path, "truth.vcf", [(ins_at, base(ins_at), base(ins_at) + "GG", "0|1"),
                                              (del_at, base(del_at, 3), base(del_at), "0|1")])
    block_ref = SEQ[ins_at - 1:del_at + 2]  # one record over the whole event, written as a base-for-base change
    block_alt = hap[ins_at - 1:del_at + 2]
    assert len(block_ref) == len(block_alt) and block_ref != block_alt

    def query(gt, alt=block_alt):
        path = tmp_path / f"query_{gt.replace('/', '')}_{alt}.vcf"
        path.write_text(HEADER.replace('##FORMAT=<ID=GT', '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="GQ">\n'
                                       '##FORMAT=<ID=GT', 1)
                        + f"{CONTIG}\t{ins_at}\t.\t{block_ref}\t{alt}\t50\tPASS\t.\tGT:GQ\t{gt}:30\n")
        return [s.correct for s in genotyped_sites(truth, str(path), ref)]

    assert query("0/1") == [True]
    assert query("1/1") == [False]
    assert query("0/1", block_alt[:-1] + other(block_alt[-1])) == [False]


def test_genotyped_sites_credit_a_repeat_change_the_truth_writes_as_two_records(tmp_path):
    """GRCh38 chr20:1,707,340-1,707,400 on a simulated HG002 sample: the truth deletes one AAAC unit at the start of
    an (AAAC)n and one A 24 bases on, on one haplotype; the caller writes the same haplotype as one 5-base deletion
    at the end. evaluate() credits it (haplotype matching); so must the calibration's per-record judgement, and a
    record that changes the haplotype must still be wrong."""
    from deepvariant_py.evaluate import genotyped_sites

    rng = random.Random(5)
    flank = "".join(rng.choice("ACGT") for _ in range(300))
    locus = "AGCGAGACTCCCTCTCAAAACAAACAAACAAACAAACAAACAAACAAAAACCAAAAACCAA"
    seq = flank + locus + flank[::-1]
    plain = tmp_path / "repeat.fa"
    plain.write_text(f">{CONTIG}\n{seq}\n")
    pysam.faidx(str(plain))
    at = len(flank) - 1707340 + 1  # VCF position = GRCh38 position + at

    def vcf(name, records):
        header = HEADER.replace(f"length={len(SEQ)}", f"length={len(seq)}").replace(
            "##FORMAT=<ID=GT", '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="GQ">\n##FORMAT=<ID=GT', 1)
        path = tmp_path / name
        path.write_text(header + "".join(f"{CONTIG}\t{p + at}\t.\t{r}\t{a}\t50\tPASS\t.\tGT:GQ\t{gt}:40\n"
                                         for p, r, a, gt in records))
        return str(path)

    truth = vcf("truth.vcf", [(1707356, "AAAAC", "A", "1|0"), (1707384, "CA", "C", "1|0")])
    assert seq[1707356 + at - 1:1707356 + at + 4] == "AAAAC" and seq[1707380 + at - 1:1707380 + at + 5] == "CAAACA"
    same = genotyped_sites(truth, vcf("same.vcf", [(1707380, "CAAACA", "C", "0/1")]), str(plain))
    assert [s.correct for s in same] == [True]
    hom = genotyped_sites(truth, vcf("hom.vcf", [(1707380, "CAAACA", "C", "1/1")]), str(plain))
    assert [s.correct for s in hom] == [False]
    shorter = genotyped_sites(truth, vcf("shorter.vcf", [(1707380, "CAAAC", "C", "0/1")]), str(plain))
    assert [s.correct for s in shorter] == [False]


def test_a_vcf_named_with_other_contig_names_is_an_error_with_regions_and_bed(tmp_path, ref):
    """hostile13: a `20` query against a `chr20`-style reference scored F1 0, exit 0, once --regions or --bed
    was given (their filter dropped every record before the contig check saw one)."""
    records = [(20, base(20), other(base(20)), "0/1")]
    truth = write_vcf(tmp_path, "truth.vcf", records)
    query = tmp_path / "renamed.vcf"
    query.write_text(open(write_vcf(tmp_path, "q.vcf", records)).read().replace(CONTIG, "other_name"))
    bed = tmp_path / "c.bed"
    bed.write_text(f"{CONTIG}\t0\t300\n")
    for kwargs in ({"regions": [(CONTIG, 0, 300)]}, {"bed": str(bed)}):
        with pytest.raises(InputError, match="query VCF .*renamed.vcf names contigs other_name, none of which is in "
                                             "reference .* wrong reference or naming"):
            evaluate(truth, str(query), ref, **kwargs)
    assert counts(evaluate(truth, truth, ref, regions=[(CONTIG, 0, 300)]).snp) == (1, 0, 0)


def test_a_record_given_twice_is_an_error_not_an_fp_and_an_fn(tmp_path, ref):
    """hostile13: overlapping shards' VCFs concatenated held 4 records twice; each TP read as an FP plus an FN."""
    snp = (20, base(20), other(base(20)), "0/1")
    other_alt = (20, base(20), other(base(20), 2), "0/1")  # split multi-allelic: same place, other allele
    truth = write_vcf(tmp_path, "truth.vcf", [snp, other_alt])
    assert counts(evaluate(truth, truth, ref).snp) == (2, 0, 0)
    twice = write_vcf(tmp_path, "twice.vcf", [snp, snp])
    with pytest.raises(InputError, match=r"query VCF .*twice.vcf holds the record chr.*:20 .* twice .*bcftools norm -d exact"):
        evaluate(truth, twice, ref)


def test_a_multi_sample_vcf_is_scored_on_the_sample_asked_for_and_a_default_is_warned_of(tmp_path, ref, caplog):
    """hostile13: eval scored the first sample of a two-sample query without a word (F1 0) and had no way to pick."""
    snp = (20, base(20), other(base(20)), "0/1")
    truth = write_vcf(tmp_path, "truth.vcf", [snp])
    two = tmp_path / "two.vcf"
    text = open(write_vcf(tmp_path, "one.vcf", [snp])).read()
    two.write_text(text.replace("\tSAMPLE\n", "\tOTHER\tSAMPLE\n").replace("\tGT\t0/1\n", "\tGT\t0/0\t0/1\n"))
    with caplog.at_level("WARNING", logger="dvcall"):
        assert counts(evaluate(truth, str(two), ref).snp) == (0, 0, 1)
    assert "holds 2 samples (OTHER, SAMPLE): scoring the first, OTHER (choose with --query-sample)" in caplog.text
    assert counts(evaluate(truth, str(two), ref, sample_query="SAMPLE").snp) == (1, 0, 0)


def test_evaluate_errors_lists_each_fp_and_fn_allele_once_and_a_wrong_zygosity_as_gt(tmp_path, ref):
    from deepvariant_py.evaluate import evaluate_errors

    truth = [(20, base(20), other(base(20)), "0/1"), (40, base(40), other(base(40)), "0/1"),
             (100, base(100, 2), base(100), "0/1")]
    query = [(20, base(20), other(base(20)), "0/1"), (60, base(60), other(base(60)), "1/1"),
             (100, base(100, 2), base(100), "1/1")]
    t, q = write_vcf(tmp_path, "truth.vcf", truth), write_vcf(tmp_path, "query.vcf", query)
    result, errors = evaluate_errors(t, q, ref)
    assert counts(result.snp) == (1, 1, 1) and counts(result.indel) == (0, 1, 1)
    assert [(e.error, e.kind, e.pos, e.truth, e.query, e.context) for e in errors] == [
        ("FN", "SNP", 40, 1, 0, "other"), ("FP", "SNP", 60, 0, 2, "other"),
        ("GT", "INDEL", 100, 1, 2, "homopolymer")]
    assert errors[2].row() == f"GT\tINDEL\t{CONTIG}\t100\t{base(100, 2)}\t{base(100)}\t1\t2\thomopolymer\t100\t100"
    assert [(e.truth_pos, e.query_pos) for e in errors[:2]] == [((40,), ()), ((), (60,))]
    assert errors[0].row().endswith("\t40\t.")
    assert evaluate_errors(t, t, ref)[1] == []
    # a deletion the query writes at the right end of the A run is listed where it normalises, with its own POS
    shifted = [(105, base(105, 2), base(105), "1/1")]
    _, errors = evaluate_errors(t, write_vcf(tmp_path, "shifted.vcf", query[:2] + shifted), ref)
    assert [(e.error, e.pos, e.truth_pos, e.query_pos) for e in errors if e.kind == "INDEL"] == [("GT", 100, (100,), (105,))]
    # review45: one deletion written twice (0/1 at both ends of the run) is a GT error naming both records
    twice = [(100, base(100, 2), base(100), "0/1"), (105, base(105, 2), base(105), "0/1")]
    _, errors = evaluate_errors(t, write_vcf(tmp_path, "twice.vcf", query[:2] + twice), ref)
    assert [e.row().split("\t")[-2:] for e in errors if e.kind == "INDEL"] == [["100", "100,105"]]


def test_eval_command_writes_the_errors_table(tmp_path, ref):
    from click.testing import CliRunner

    from deepvariant_py.cli.main import main

    truth = [(20, base(20), other(base(20)), "0/1"), (40, base(40), other(base(40)), "0/1")]
    t = write_vcf(tmp_path, "truth.vcf", truth)
    q = write_vcf(tmp_path, "query.vcf", truth[:1])
    out = tmp_path / "errors.tsv"
    result = CliRunner().invoke(main, ["eval", "--truth", t, "--query", q, "--ref", ref, "--errors", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0].split("\t") == ["error", "kind", "contig", "pos", "ref", "alt", "truth", "query", "context",
                                    "truth_pos", "query_pos"]
    assert lines[1:] == [f"FN\tSNP\t{CONTIG}\t40\t{base(40)}\t{other(base(40))}\t1\t0\tother\t40\t."]
    # naming an input as --errors is refused before anything is written
    before = open(q).read()
    again = CliRunner().invoke(main, ["eval", "--truth", t, "--query", q, "--ref", ref, "--errors", q])
    assert again.exit_code != 0 and "--errors" in again.output and open(q).read() == before


def test_a_haploid_gt_counts_as_homozygous(tmp_path, ref):
    """hostile24: a truth `1` (a male's chrX) scored against dvcall's `1/1` was a genotype error, and a wrong
    `0/1` a true positive."""
    snp = (40, base(40), other(base(40)))
    assert counts(run(tmp_path, ref, [snp + ("1",)], [snp + ("1/1",)]).snp) == (1, 0, 0)
    assert counts(run(tmp_path, ref, [snp + ("1",)], [snp + ("0/1",)]).snp) == (0, 1, 1)
    assert counts(run(tmp_path, ref, [snp + ("1/1",)], [snp + ("1",)]).snp) == (1, 0, 0)
    assert counts(run(tmp_path, ref, [snp + ("0",)], [snp + ("0/1",)]).snp) == (0, 1, 0)


def test_eval_outputs_appear_together_never_over_a_regions_bed_and_gzipped_by_name(tmp_path, ref, monkeypatch, caplog):
    import gzip as gz

    from click.testing import CliRunner

    from deepvariant_py import evaluate as evaluate_module
    from deepvariant_py.cli.main import main

    truth = [(20, base(20), other(base(20)), "0/1"), (40, base(40), other(base(40)), "0/1")]
    t, q = write_vcf(tmp_path, "truth.vcf", truth), write_vcf(tmp_path, "query.vcf", truth[:1])
    bed = tmp_path / "r.bed"
    bed.write_text(f"{CONTIG}\t0\t300\n")
    base_args = ["eval", "--truth", t, "--query", q, "--ref", ref]
    refused = CliRunner().invoke(main, base_args + ["--regions", str(bed), "--errors", str(bed)])
    assert refused.exit_code != 0 and "--regions" in refused.output and bed.read_text() == f"{CONTIG}\t0\t300\n"
    out, again = tmp_path / "e.tsv.gz", tmp_path / "again.tsv.gz"
    for path in (out, again):
        assert CliRunner().invoke(main, base_args + ["--errors", str(path)]).exit_code == 0
    assert gz.open(out, "rt").read().splitlines()[1].startswith("FN\tSNP")
    assert out.read_bytes() == again.read_bytes()  # no name, no time in the gzip header
    assert CliRunner().invoke(main, base_args + ["--json", str(tmp_path / "r.json.gz")]).exit_code == 0
    assert '"snp"' in gz.open(tmp_path / "r.json.gz", "rt").read()  # hostile24: plain text under a .gz name
    # a failure writing one output leaves neither (the JSON was left behind before)
    js, errs = tmp_path / "r.json", tmp_path / "e2.tsv"
    monkeypatch.setattr(evaluate_module.ErrorAllele, "row", lambda self: 1 / 0)
    failed = CliRunner().invoke(main, base_args + ["--json", str(js), "--errors", str(errs)])
    assert failed.exit_code != 0 and not js.exists() and not errs.exists()
    monkeypatch.undo()
    with caplog.at_level("WARNING", logger="dvcall"):
        empty = CliRunner().invoke(main, base_args + ["--regions", f"{CONTIG}:200-210"])
    assert empty.exit_code == 0 and "every count is 0" in caplog.text
