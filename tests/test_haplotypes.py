"""Overlapping calls resolved jointly (docs/design.md §9.4)."""
import numpy as np
import pytest

from deepvariant_py.examples_io import VariantInfo
from deepvariant_py.haplotypes import MAX_CALLS, allele_spans, overlapping_groups, resolve_group, resolve_overlaps
from deepvariant_py.postprocess import Site, site_records

# The case seen on simulated HiFi reads (20:945474): a homozygous 2-bp deletion CAT>C and a heterozygous
# T>C SNP on its last deleted base, which no diploid genome can carry together.
HOM_DEL = np.array([0.0002, 0.05, 0.9498])
HET_SNP = np.array([0.09, 0.9095, 0.0005])
DEL = allele_spans(100, "CAT", ["C"])  # its REF span, anchor included
SNP_ON_DELETED = allele_spans(102, "T", ["C"])


def test_snp_inside_hom_deletion_becomes_hom_ref():
    marginals = resolve_group([DEL, SNP_ON_DELETED], [HOM_DEL, HET_SNP])
    assert marginals is not None
    assert int(np.argmax(marginals[0])) == 2  # the deletion stays 1/1
    assert int(np.argmax(marginals[1])) == 0  # the SNP goes
    for m in marginals:
        assert m.sum() == pytest.approx(1.0)
    # the configurations two haplotypes allow: del 1/1 + SNP 0/0, del 0/1 + SNP 0/0 or 0/1, del 0/0 + any SNP
    d, s = HOM_DEL, HET_SNP
    total = d[2] * s[0] + d[1] * (s[0] + s[1]) + d[0] * s.sum()
    assert marginals[1][0] == pytest.approx((d[2] * s[0] + d[1] * s[0] + d[0] * s[0]) / total)
    assert marginals[0][2] == pytest.approx(d[2] * s[0] / total)


def test_het_deletion_and_het_snp_fit_two_haplotypes():
    het_del = np.array([0.01, 0.9, 0.09])
    assert resolve_group([DEL, SNP_ON_DELETED], [het_del, HET_SNP]) is None


def test_left_unchanged_when_joint_best_and_marginal_disagree():
    # joint best: both het (0.44*0.40); but the SNP's marginal favours hom-ref (0.30 summed over two configurations)
    a, b = np.array([0.01, 0.44, 0.55]), np.array([0.30, 0.40, 0.30])
    assert resolve_group([DEL, [(101, 102)]], [a, b]) is None


def test_allele_spans_substitutions_hold_their_changed_bases_indels_their_ref():
    assert allele_spans(100, "CAT", ["C"]) == [(100, 103)]
    assert allele_spans(100, "A", ["G"]) == [(100, 101)]
    assert allele_spans(100, "A", ["AGG"]) == [(100, 101)]
    assert allele_spans(100, "CTT", ["C", "TTT"]) == [(100, 103), (100, 101)]  # REF padded for the deletion
    assert allele_spans(102, "TTGTG", ["T", "TTGTGTG"]) == [(102, 107), (102, 107)]  # indels in a repeat
    assert allele_spans(100, "ACGT", ["AGGA"]) == [(101, 104)]  # an MNP: first to last changed base
    assert allele_spans(100, "CTTA", ["CTTG", "C"]) == [(103, 104), (100, 104)]


def test_anchor_base_counts_as_covered():
    # DeepVariant counts the whole REF span, anchor included: a hom deletion and a het SNP on its anchor conflict
    assert resolve_group([DEL, allele_spans(100, "C", ["G"])], [HOM_DEL, HET_SNP]) is not None


def test_padded_multiallelic_snp_leaves_room_for_a_snp_of_its_haplotype():
    """CTT>C,TTT called 1/2 (TT deleted on one haplotype, C>T on the other) and a het T>C on the last T: the
    second haplotype carries both SNPs (a (TTTC)n repeat of simulated HiFi + Illumina reads); with the whole REF
    span counted, the SNP was dropped."""
    one_two = np.zeros(6)
    one_two[4] = 0.9  # VCF order 0/0, 0/1, 1/1, 0/2, 1/2, 2/2
    one_two[[0, 1, 2, 3, 5]] = 0.02
    multi = allele_spans(100, "CTT", ["C", "TTT"])
    assert resolve_group([multi, allele_spans(102, "T", ["C"])], [one_two, HET_SNP]) is None
    # a hom-alt SNP there does not fit: the deleting haplotype has no base to carry it
    hom_snp = np.array([0.01, 0.3, 0.69])
    assert resolve_group([multi, allele_spans(102, "T", ["C"])], [one_two, hom_snp]) is not None


def test_large_groups_are_left_alone():
    probs = [HOM_DEL] * (MAX_CALLS + 1)
    assert resolve_group([[(100, 110)]] * (MAX_CALLS + 1), probs) is None


def test_groups_follow_overlap_and_contig():
    spans = [("1", 100, 103), ("1", 102, 103), ("1", 103, 104), ("2", 100, 105), ("2", 104, 106)]
    assert overlapping_groups(spans) == [[0, 1], [2], [3, 4]]


def test_hom_ref_calls_take_no_part():
    ref_call = np.array([0.9, 0.08, 0.02])
    records = [("1", 100, "CAT", ["C"]), ("1", 102, "T", ["C"])]
    assert resolve_overlaps(records, [ref_call, HET_SNP]) == {}
    assert set(resolve_overlaps(records, [HOM_DEL, HET_SNP])) == {0, 1}


def _site(start: int, ref: str, alt: str, probs: np.ndarray) -> Site:
    variant = VariantInfo("chr1", start, ref, (alt,), 20, (10, 10))
    return Site(variant, ref, [alt], [10, 10], probs)


def test_records_keep_qual_and_gq_and_filter_the_resolved_snp():
    sites = [_site(100, "CAT", "C", HOM_DEL), _site(102, "T", "C", HET_SNP)]
    plain = site_records(sites, resolve=False)
    resolved = site_records(sites, resolve=True)
    assert [r.filter for r in plain] == ["PASS", "PASS"]
    assert resolved[0].filter == "PASS" and resolved[0].genotype == (1, 1)
    snp = resolved[1]
    assert snp.filter == "RefCall" and snp.genotype is None  # hom-ref with GQ < 20 is written ./.
    assert (snp.qual, snp.gq) == (plain[1].qual, plain[1].gq)
    assert snp.pl[0] == 0 and plain[1].pl[1] == 0
