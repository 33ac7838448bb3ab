"""Genotype arithmetic (docs/design.md §9.2-9.3) on hand-computed numbers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from deepvariant_py.genotypes import (
    MAX_CONFIDENCE,
    GenotypeCall,
    call_genotype,
    genotype_pairs,
    merge_min_rule,
    prune_alts,
    ptrue_to_qual,
    simplify_alleles,
)

# -10 log10(1 - (1 - 1.25e-10)): in doubles 1 - MAX_CONFIDENCE is 1.2500001e-10, so the cap is 99.0308995
# after rounding to 7 decimals (not 99.0308999, the exact -10 log10 1.25e-10), as DeepVariant computes it too.
MAX_QUAL = 99.0308995


def test_genotype_pairs_vcf_order():
    assert genotype_pairs(1) == [(0, 0)]
    assert genotype_pairs(2) == [(0, 0), (0, 1), (1, 1)]
    assert genotype_pairs(3) == [(0, 0), (0, 1), (1, 1), (0, 2), (1, 2), (2, 2)]
    four = genotype_pairs(4)
    assert four[6:] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    # VCF: index of (j, k), j <= k, is k(k+1)/2 + j.
    assert all(four.index((j, k)) == k * (k + 1) // 2 + j for j, k in four)


def test_ptrue_to_qual():
    assert ptrue_to_qual(0.9) == pytest.approx(10.0)
    assert ptrue_to_qual(0.0) == 0.0
    assert ptrue_to_qual(1.0) == pytest.approx(99.03089987, abs=1e-6)
    assert ptrue_to_qual(MAX_CONFIDENCE) == ptrue_to_qual(1.0)


IMAGES_2 = {
    (0,): (0.10, 0.60, 0.30),
    (1,): (0.20, 0.50, 0.30),
    (0, 1): (0.05, 0.15, 0.80),
}


def test_min_rule_two_alts():
    probs = merge_min_rule(IMAGES_2, [0, 1])
    # 0/0 = min(.10,.20,.05); 0/1 = min(.60,.15); 1/1 = min(.30,.80);
    # 0/2 = min(.50,.15); 1/2 = .80; 2/2 = min(.30,.80); sum = 1.75
    raw = [0.05, 0.15, 0.30, 0.15, 0.80, 0.30]
    assert probs == pytest.approx([v / 1.75 for v in raw])
    assert probs.sum() == pytest.approx(1.0)


def test_min_rule_single_alt_image_used_directly():
    assert merge_min_rule({(0,): (0.2, 0.5, 0.3)}, [0]) == pytest.approx([0.2, 0.5, 0.3])


def test_min_rule_after_pruning_ignores_images_with_removed_alts():
    # Alt 0 pruned: only the {1} image remains, and it becomes a bi-allelic distribution.
    assert merge_min_rule(IMAGES_2, [1]) == pytest.approx([0.2, 0.5, 0.3])


def test_min_rule_three_alts_pruned_to_two():
    images = {
        (0,): (0.1, 0.7, 0.2), (1,): (0.9, 0.05, 0.05), (2,): (0.3, 0.4, 0.3),
        (0, 1): (0.0, 0.0, 1.0), (0, 2): (0.2, 0.3, 0.5), (1, 2): (0.0, 0.0, 1.0),
    }
    probs = merge_min_rule(images, [0, 2])
    # Alleles [ref, alt0, alt2]: 0/0 = min(.1,.3,.2) ; 0/1 = min(.7,.3) ; 1/1 = min(.2,.5)
    #                           0/2 = min(.4,.3) ; 1/2 = .5 ; 2/2 = min(.3,.5); sum = 1.7
    raw = [0.1, 0.3, 0.2, 0.3, 0.5, 0.3]
    assert probs == pytest.approx([v / 1.7 for v in raw])


def test_min_rule_without_pair_image_gives_het_alt_zero():
    probs = merge_min_rule({(0,): (0.1, 0.6, 0.3), (1,): (0.2, 0.5, 0.3)}, [0, 1])
    raw = [0.1, 0.6, 0.3, 0.5, 0.0, 0.3]
    assert probs == pytest.approx([v / 1.8 for v in raw])


def test_min_rule_all_zero_is_uniform():
    assert merge_min_rule({(0,): (0.0, 0.0, 0.0)}, [0]) == pytest.approx([1 / 3] * 3)


def test_prune_alts_threshold():
    # QUAL >= 1 <=> P(non-ref) >= 1 - 10^-0.1 = 0.2057
    assert ptrue_to_qual(0.21) == pytest.approx(1.0237291)
    assert ptrue_to_qual(0.20) == pytest.approx(0.9691001)
    singles = {0: (0.79, 0.11, 0.10), 1: (0.80, 0.10, 0.10), 2: (0.01, 0.9, 0.09)}
    assert prune_alts(singles, 3) == [0, 2]


def test_prune_alts_keeps_the_best_when_all_fail():
    assert prune_alts({0: (0.9, 0.05, 0.05), 1: (0.85, 0.1, 0.05)}, 2) == [1]
    assert prune_alts({0: (1.0, 0.0, 0.0), 1: (1.0, 0.0, 0.0)}, 2) == [0]


def test_prune_alts_keeps_all_passing():
    assert prune_alts({0: (0.0, 0.5, 0.5), 1: (0.1, 0.9, 0.0)}, 2) == [0, 1]


def test_call_genotype_het():
    call = call_genotype(np.array([0.10, 0.85, 0.05]))
    # GQ = round(-10 log10 .15) = round(8.239) = 8; QUAL = -10 log10(.10) = 10
    # GL = [-1, -0.0706, -1.301]; PL = int(10 * (GL_max - GL)) = [int(9.29), 0, int(12.30)]
    assert call == GenotypeCall((0, 1), 8, 10.0, (9, 0, 12))


def test_call_genotype_hom_ref_quals():
    call = call_genotype(np.array([0.95, 0.04, 0.01]))
    # GQ = round(-10 log10 .05) = round(13.01) = 13; QUAL = -10 log10(.95) = 0.22276394 -> 0.2227639
    # PL = [0, int(13.98), int(19.78)]
    assert call == GenotypeCall((0, 0), 13, 0.2227639, (0, 13, 19))


def test_pl_truncates_instead_of_rounding():
    call = call_genotype(np.array([0.5, 0.3, 0.2]))
    # GL - max = [0, -0.2218, -0.3979] -> PL [0, int(2.22), int(3.98)] = [0, 2, 3], not [0, 2, 4]
    assert call.pl == (0, 2, 3)
    assert call.gq == 3  # round(-10 log10 .5) = round(3.0103)
    assert call.qual == 3.0103  # -10 log10 .5 = 3.01029996 -> 7 decimals


def test_call_genotype_caps():
    call = call_genotype(np.array([0.0, 1.0, 0.0]))
    # P(GT) capped at 1 - 1.25e-10: GQ = round(99.03) = 99, QUAL = 99.0308995, GL floor log10(1.25e-10) = -9.903
    assert call == GenotypeCall((0, 1), 99, MAX_QUAL, (99, 0, 99))
    call = call_genotype(np.array([1.0, 0.0, 0.0]))
    assert call.genotype == (0, 0) and call.gq == 99 and call.qual == 0.0 and call.pl == (0, 99, 99)


@pytest.mark.parametrize("phred, gq", [(1.5, 2), (2.5, 2)])
def test_gq_rounds_half_to_even(phred, gq):
    p = 1.0 - 10 ** (-phred / 10)
    assert -10 * math.log10(1 - p) == phred  # the test input really is an exact half
    rest = (1 - p) / 2
    assert call_genotype(np.array([rest, p, rest])).gq == gq


def test_gt_is_first_maximum():
    assert call_genotype(np.array([0.4, 0.4, 0.2])).genotype == (0, 0)
    assert call_genotype(np.array([0.2, 0.4, 0.4])).genotype == (0, 1)


def test_call_genotype_multiallelic():
    probs = np.array([0.01, 0.02, 0.03, 0.04, 0.85, 0.05])
    call = call_genotype(probs)
    assert call.genotype == (1, 2)
    assert call.gq == 8  # round(-10 log10 .15)
    assert call.qual == 20.0  # -10 log10 .01
    assert len(call.pl) == 6 and call.pl[4] == 0
    # PL_k = int(10 * (log10 .85 - log10 p_k)): 0.01 -> int(19.29) = 19
    assert call.pl == (19, 16, 14, 13, 0, 12)


def test_simplify_alleles():
    assert simplify_alleles("TAG", ["CAG"]) == ("T", ["C"])
    assert simplify_alleles("TAG", ["CAG", "TG"]) == ("TA", ["CA", "T"])
    assert simplify_alleles("TAG", ["T"]) == ("TAG", ["T"])
    assert simplify_alleles("A", ["AGG"]) == ("A", ["AGG"])
    assert simplify_alleles("ACC", ["AC"]) == ("AC", ["A"])
    assert simplify_alleles("GATT", ["CATT", "GTT"]) == ("GA", ["CA", "G"])
    assert simplify_alleles("ATTT", ["AT", "ATT"]) == ("ATT", ["A", "AT"])


def test_diploid_alleles_read_a_haploid_gt_as_its_homozygote_and_missing_as_reference():
    from deepvariant_py.genotypes import diploid_alleles

    assert diploid_alleles((1,)) == [1, 1] and diploid_alleles((None, 2)) == [0, 2] and diploid_alleles(None) == []
    assert diploid_alleles((0, 1, 1)) == [0, 1, 1]  # other ploidies as they are: the caller says what it takes
