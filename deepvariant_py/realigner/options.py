"""Settings of local realignment (docs/design.md §3), with DeepVariant's defaults."""
from __future__ import annotations

from dataclasses import dataclass

from ..read_events import LONG_READ_BASES


@dataclass(frozen=True)
class RealignerOptions:
    """Window selection (ws_*), de Bruijn assembly (dbg_*) and read-to-haplotype alignment settings."""

    # §3.1 window selection (VARIANT_READS model)
    ws_min_mapq: int = 20
    ws_min_base_quality: int = 20
    ws_min_supporting: int = 2
    ws_max_supporting: int = 300
    ws_region_expansion: int = 20
    window_padding: int = 80  # ws_min_windows_distance: windows are [first - 80, last + 80), split past 2 x 80
    max_window_size: int = 1000
    # §3.2 assembly
    min_gap_events: int = 1
    """dvcall addition: a window is assembled only when its reads hold at least this many indels or soft clips
    (anchored inside it); DeepVariant assembles every window. Reads that only mismatch the reference need no new
    gaps, and windows without one were 71% of all windows on a simulated 30x Illumina sample (GRCh38
    chr20:2.0-2.3 Mb, HG002 variants) and 41% on one with PCR stutter in repeats, where assembly found a gapped
    haplotype in 1 of 328 such windows: the spurious 156- and 164-base paths of a hom-alt SNP inside a TTAA
    repeat, which realignment would have turned into false indels. 0 assembles every window."""
    dbg_min_k: int = 10
    dbg_max_k: int = 101
    dbg_step_k: int = 1
    dbg_min_mapq: int = 14
    dbg_min_base_quality: int = 15
    dbg_min_edge_weight: int = 2
    dbg_retry_base_quality: int = 8
    """dvcall addition: a gapped window whose assembly finds no gapped haplotype is assembled once more with bases
    down to this quality. In a tandem repeat k must outgrow the repeat, and reads with scattered Q<15 bases
    (HiSeq 2000: runs of ~27 usable bases) hold no (k+1)-mer across a long insertion. Chosen on the simulated
    Illumina calibration samples with the shipped model: genotype errors 119 (no retry), 115 (Q10, GATK's
    assembly threshold), 112 (Q8); held-out rows unchanged by either."""
    dbg_max_num_paths: int = 256
    # §3.3 alignment
    max_read_length: int = LONG_READ_BASES  # longer reads are never realigned
    margin: int = 20
    match: int = 4
    mismatch: int = 6
    gap_open: int = 8  # cost of a gap of length 1; a gap of length g costs gap_open + (g - 1) * gap_extend
    gap_extend: int = 2
    hap_match: int = 135
    hap_mismatch: int = 150
    hap_gap_open: int = 260
    hap_gap_extend: int = 11
    """dvcall change: the scores that align each assembled haplotype to the reference (DeepVariant uses the read scores
    above). GATK HaplotypeCaller's haplotype-to-reference scores (mismatch 150, gap open 260, extend 11) with a
    smaller reward per aligned base (135, GATK 200): a gap costs about as much as two mismatches, so an event is
    written as the fewest, longest indels. With 4/6/8/2, a haplotype that moves a 4-bp unit inside an imperfect
    tandem repeat (an insertion and a deletion of GATA 35 bp apart) aligns as four 1-bp indels, and every read
    realigned to it carries 1-bp indels nobody has. With GATK's 200 per aligned base, a 12-bp insertion and a
    4-bp deletion 25 bp apart in a (CCTT)n repeat were written as 6I, 1D, 3I and a mismatch (three bases fewer in
    gaps earned more than two more events cost), and the haplotype's reads carried alleles no sample has (that
    needs a reward under 166). Above 99 it must stay, or two 1-bp insertions 10 bp apart become a 2-bp insertion
    and a mismatch. Chosen on the simulated Illumina calibration samples with the shipped model: 200, 150, 135
    and 120 give the same genotype errors (112); parsimony scores without a reward per base (match 0, mismatch
    30, gap 50 + 1 to 10 per base) 114-120; mismatch 250 117."""
    max_read_gaps: int = 1
    """dvcall addition: a read whose alignment to its best haplotype needs more than this many gaps (inside
    the read; unaligned clipped ends do not count) is not explained by any haplotype and keeps its original
    alignment. DeepVariant accepts any positive Smith-Waterman score, which in messy low-complexity
    stretches turns long garbage soft clips into strings of false indels. On NA12878 chr20:10.00-10.05 Mb
    (candidates vs GIAB): 0 gives 12 non-truth indel alleles, 1 gives 16, unlimited 28; truth indels found
    25/27 in every case (24/27 without realignment). Calls with the same model: 1 finds the 11-bp deletion
    in the (CA)n repeat at chr20:10008952 that 0 misses (INDEL F1 0.807 -> 0.828), so 1 is the default."""
    long_reads: bool = False
    """dvcall addition (hybrid runs): also realign the pieces of long reads that span a window to the haplotypes
    the short reads assembled there (long_reads.py); long reads are never assembled or realigned whole."""
    long_read_flank: int = 20  # a long read is cut this many reference bases outside the window
    max_haplotypes: int = 16
    """dvcall addition: at most this many haplotypes per window are aligned against (the reference plus the
    best-supported others, by their weakest read-supported edge). DeepVariant aligns every assembled path
    (up to 256) after its fast-pass filter; a cap keeps a branchy window from costing seconds."""
