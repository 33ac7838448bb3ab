"""reference.py: an indexed FASTA, checked against its index when opened."""
from __future__ import annotations

import pysam
import pytest

from deepvariant_py.errors import InputError
from deepvariant_py.reference import Reference


def test_a_fai_made_before_a_header_was_edited_is_refused(tmp_path):
    """hostile18: `sed -i` on the header line after `samtools faidx` shifted every offset; the last base of the
    contig (an N) still read as a letter, and the run made 35,000 PASS SNPs in 50 kb from header text and line ends."""
    fa = tmp_path / "ref.fa"
    seq = ("ACGTTGCAAG" * 30 + "\n") * 40 + "N" * 60 + "\n"
    fa.write_text(">20\n" + seq)
    pysam.faidx(str(fa))
    Reference(str(fa)).close()
    fa.write_text(">20 dna:chromosome chromosome:GRCh37:20:1:12060:1\n" + seq)  # the old .fai stays
    with pytest.raises(InputError, match=r"contig '20' starts with 'dna:chromosome chrom', not bases: was the FASTA "
                                         r"edited after indexing\?\): re-create the index with `samtools faidx"):
        Reference(str(fa))


def test_ambiguous_bases_are_the_iupac_codes_not_n():
    from deepvariant_py.make_examples import MakeExamplesStats, ambiguous_reference_warning
    from deepvariant_py.reference import ambiguous_bases
    assert ambiguous_bases("ACGTNRYKMSWBDHVN").tolist() == [False] * 5 + [True] * 10 + [False]
    assert ambiguous_reference_warning([MakeExamplesStats(), MakeExamplesStats()]) is None
    line = ambiguous_reference_warning([MakeExamplesStats(ambiguous_reference=1200), MakeExamplesStats(ambiguous_reference=34)])
    assert line.startswith("1,234 reference position(s) under the reads hold IUPAC ambiguity codes")
