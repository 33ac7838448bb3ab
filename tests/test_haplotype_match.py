"""Tests of deepvariant_py.haplotype_match on hand-built alleles over a tiny reference."""
from deepvariant_py.haplotype_match import clusters, edit_of, equivalent, haplotype_pairs, rescued, spell

#     0         1         2         3
#     0123456789012345678901234567890123456
REF = "GGATCTTTCTTTCTTTCTTTTTCTTTTTCCTTCAGGA"


def fetch(contig, start, end):
    assert contig == "c"
    return REF[start:end]


def key(pos0, ref, alt):
    """An allele at 0-based `pos0` (keys carry the 1-based POS)."""
    assert REF[pos0:pos0 + len(ref)] == ref
    return ("c", pos0 + 1, ref, alt)


INS = key(12, "C", "CTT")  # TT after the C at 12
DEL = key(22, "CTT", "C")  # the TT after the C at 22


def substitutions_equal_to(edits):
    """The base changes that spell the same sequence as `edits`, which must keep the length."""
    hap = spell(edits, REF, 0)
    assert hap is not None and len(hap) == len(REF) and hap != REF
    return [key(i, REF[i], b) for i, b in enumerate(hap) if b != REF[i]]


def test_edit_of_drops_the_indel_anchor():
    assert edit_of(INS) == (13, 13, "TT")
    assert edit_of(DEL) == (23, 25, "")
    assert edit_of(key(5, "T", "G")) == (5, 6, "G")


def test_spell_applies_edits_and_refuses_overlaps():
    assert spell([edit_of(INS)], REF, 0) == REF[:13] + "TT" + REF[13:]
    assert spell([edit_of(DEL)], REF, 0) == REF[:23] + REF[25:]
    # a base change at an insertion's anchor is not an overlap
    assert spell([edit_of(INS), edit_of(key(12, "C", "A"))], REF, 0) == REF[:12] + "ATT" + REF[13:]
    assert spell([edit_of(DEL), edit_of(key(23, "T", "G"))], REF, 0) is None
    assert spell([(13, 13, "A"), (13, 13, "C")], REF, 0) is None  # two insertions at one point: order unknown


def test_insertion_and_deletion_equal_base_changes_in_a_repeat():
    snps = substitutions_equal_to([edit_of(INS), edit_of(DEL)])
    assert 1 <= len(snps) <= 5
    truth = {INS: 1, DEL: 1}
    assert equivalent(truth, {s: 1 for s in snps}, fetch)
    assert equivalent({s: 1 for s in snps}, truth, fetch)
    assert equivalent({INS: 2, DEL: 2}, {s: 2 for s in snps}, fetch)


def test_wrong_zygosity_or_a_missing_piece_is_not_equivalent():
    snps = substitutions_equal_to([edit_of(INS), edit_of(DEL)])
    assert not equivalent({INS: 1, DEL: 1}, {s: 2 for s in snps}, fetch)
    assert not equivalent({INS: 1, DEL: 1}, {s: 1 for s in snps[1:]}, fetch)
    assert not equivalent({INS: 1, DEL: 1}, {}, fetch)


def test_het_alleles_on_different_haplotypes_are_not_one_haplotype():
    # Insertion on one haplotype and deletion on the other is a different genotype from both on one: the
    # base changes (all on one haplotype) match only the latter placement, which two one-copy alleles allow.
    snps = substitutions_equal_to([edit_of(INS), edit_of(DEL)])
    pairs = haplotype_pairs({INS: 1, DEL: 1}, REF, 0)
    assert len(pairs) == 2
    assert (REF, spell([edit_of(INS), edit_of(DEL)], REF, 0)) in pairs or \
        (spell([edit_of(INS), edit_of(DEL)], REF, 0), REF) in pairs
    assert equivalent({INS: 1, DEL: 1}, {s: 1 for s in snps}, fetch)


def test_overlapping_alleles_must_go_on_different_haplotypes():
    a, b = key(22, "CTT", "C"), key(22, "CT", "C")  # a 1/2 of two deletions
    pairs = haplotype_pairs({a: 1, b: 1}, REF, 0)
    assert pairs == {tuple(sorted((REF[:23] + REF[25:], REF[:23] + REF[24:])))}
    assert haplotype_pairs({a: 2, b: 1}, REF, 0) == set()  # no placement holds all three copies


def test_unjudgeable_sides():
    assert haplotype_pairs({INS: 3}, REF, 0) is None
    many = {key(i, REF[i], "A" if REF[i] != "A" else "C"): 1 for i in range(0, 26, 2)}
    assert haplotype_pairs(many, REF, 0, max_hets=12) is None


def test_clusters_chain_neighbours_within_the_gap():
    far = ("c", 200, "A", "G")
    got = clusters([INS, DEL, far], [key(14, "T", "G")], gap=8)
    assert got == [([INS, DEL], [key(14, "T", "G")]), ([far], [])]
    assert len(clusters([INS, DEL], [key(14, "T", "G")], gap=7)) == 2  # 8 bases from the change at 14 to the deletion
    assert len(clusters([INS], [("d", 13, "C", "A")])) == 2  # another contig is another cluster


def test_rescued_skips_exact_clusters_and_takes_equivalent_ones():
    snps = substitutions_equal_to([edit_of(INS), edit_of(DEL)])
    truth = {INS: 1, DEL: 1}
    query = {s: 1 for s in snps}
    got_truth, got_query = rescued(truth, query, set(), fetch)
    assert got_truth == set(truth) and got_query == set(query)
    assert rescued(truth, dict(truth), set(truth), fetch) == (set(), set())
    assert rescued(truth, {snps[0]: 1}, set(), fetch) == (set(), set())


# A stretch of GRCh38 chr20 (1,668,150-1,668,319): a TTTC repeat whose units vary (TTTTC, TTTTTC), where a
# simulated truth writes one haplotype as a TTTC deletion near the repeat's start and a TTTC insertion 67 bases
# on, and a caller writes the same haplotype as +TT, -T, -T in between (40+ bases from the truth's first edit).
LONG = ("TTTTCTTTTCTTTTCTTTTCTTTTCTTTCTTTCTTTCTTTTTCTTTTCTTTTCTTTCTTTCTTTCTTTCTTTCTTTCTTTCTTTCTTTCTTTCTTTCTTT"
        "TTCTTTTTCTTTTTCTTTTCTTTCTTTCTTTTCTTTCTTTCTTTCTTTTTTTGACAGAGTCTTGCTCTGT")
OFF = 1668150


def long_fetch(contig, start, end):
    """The stretch, N outside it (as a reference's bases beyond a window)."""
    padded = "N" * 200 + LONG + "N" * 200
    return padded[start - OFF + 200:end - OFF + 200]


def long_key(pos1, ref, alt):
    assert LONG[pos1 - 1 - OFF:pos1 - 1 - OFF + len(ref)] == ref
    return ("c", pos1, ref, alt)


def test_edits_far_apart_in_one_repeat_are_judged_together_by_how_far_they_can_slide():
    truth = {long_key(1668199, "TTTTC", "T"): 1, long_key(1668266, "T", "TTTTC"): 1}
    query = {long_key(1668243, "C", "CTT"): 1, long_key(1668259, "CT", "C"): 1, long_key(1668265, "CT", "C"): 1}
    assert len(clusters(truth, query)) > 1  # 25 bases between written edits: apart
    assert clusters(truth, query, fetch=long_fetch) == [(sorted(truth), sorted(query))]
    assert equivalent(truth, query, long_fetch)
    got_truth, got_query = rescued(truth, query, set(), long_fetch)
    assert got_truth == set(truth) and got_query == set(query)
    # the truth deletion can be written anywhere along its run of TTTC units, up to the TTTTTC that ends it
    from deepvariant_py.haplotype_match import slide_span
    assert slide_span(long_key(1668199, "TTTTC", "T"), long_fetch) == (1668199, 1668250)
    assert slide_span(long_key(1668243, "C", "A"), long_fetch) == (1668242, 1668243)  # a substitution stays put
