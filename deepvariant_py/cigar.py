"""CIGAR operations: pysam's constants, the one vocabulary of every module that walks or writes an alignment
(read_events.py's INSERTION / DELETION / CLIPPED are event kinds of its own, not CIGAR operations)."""
from __future__ import annotations

import pysam

MATCH, INS, DEL, REF_SKIP = pysam.CMATCH, pysam.CINS, pysam.CDEL, pysam.CREF_SKIP
SOFT_CLIP, HARD_CLIP, PAD, EQUAL, DIFF = pysam.CSOFT_CLIP, pysam.CHARD_CLIP, pysam.CPAD, pysam.CEQUAL, pysam.CDIFF

ALIGNED = (MATCH, EQUAL, DIFF)  # a read base against a reference base
REF_ADVANCING = (MATCH, DEL, REF_SKIP, EQUAL, DIFF)
READ_ADVANCING = (MATCH, INS, SOFT_CLIP, EQUAL, DIFF)
