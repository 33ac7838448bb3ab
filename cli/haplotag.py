"""`dvcall haplotag`: HP-tag long reads from a first-pass VCF with whatshap (what `run --phaser whatshap` does
between its passes)."""
import logging

import click

from deepvariant_py.alignment_files import reads_inputs
from deepvariant_py.errors import OutputError
from deepvariant_py.htslib import BAM_INDEXES
from deepvariant_py.identity import individuals_warning
from deepvariant_py.phasing import equals_warning, has_het_call, haplotag, require_whatshap
from deepvariant_py.outputs import check_outputs
from deepvariant_py.reads import open_reads
from deepvariant_py.reference import Reference
from deepvariant_py.regions import parse_regions, region_file_inputs

from .common import user_errors

log = logging.getLogger("dvcall")


@click.command("haplotag")
@click.option("--ref", required=True, type=click.Path(), help="Reference FASTA the reads are aligned to.")
@click.option("--reads", required=True, multiple=True, type=click.Path(),
              help="Indexed BAM or CRAM to tag. Repeatable for one sample's reads in several files: they are merged (`samtools "
                   "merge`) into the one tagged BAM.")
@click.option("--calls", required=True, type=click.Path(), help="A VCF of the same sample (e.g. `dvcall run --no-phase-reads` on these reads); its heterozygous calls are phased.")
@click.option("--output", required=True, type=click.Path(), help="Tagged BAM to write (.bam; indexed), with the phased VCF and whatshap's logs beside it.")
@click.option("--regions", multiple=True, help="Only tag and write reads of these regions (as for `run`; a contig's regions are spanned first to last).")
@click.option("--quiet", is_flag=True, help="Only print warnings and errors.")
@user_errors
def haplotag_cmd(ref, reads, calls, output, regions, quiet):
    """Phase a VCF's heterozygous calls and tag each read with HP/PS, with whatshap (pip install 'dvcall[phasing]')."""
    if not output.endswith(".bam"):
        raise OutputError(f"--output {output} must end in .bam")
    check_outputs({"--output": output, **{f"its {ext} index": output + ext for ext in BAM_INDEXES}},
                  {"--ref": ref, **reads_inputs(reads), "--calls": calls, **region_file_inputs({"--regions": regions})})
    require_whatshap("dvcall haplotag", "")
    reference = Reference(ref)
    with open_reads(reads, reference) as sources:  # whatshap ignores read groups: two samples' reads would be tagged as one
        sources.sample(fix="pass the reads of one sample")
        if (equals := equals_warning(sources.equals_paths)):
            log.warning("%s", equals)
        spans = parse_regions(list(regions), reference.lengths)
        if (other := individuals_warning(sources, reference, spans)):  # the workflow's first pass logs it only
            log.warning("%s", other)
    tagged, total = haplotag(ref, list(reads), calls, output, spans)
    if total and not tagged and not has_het_call(calls):
        log.info("no read was tagged: --calls %s holds no heterozygous call (a haploid contig's calls have none)", calls)
    elif total and not tagged:
        log.warning("no read was tagged: --calls %s holds no heterozygous call that whatshap could phase in these reads "
                    "(a VCF of another sample, or of other regions?)", calls)
    if not quiet:
        click.echo(f"dvcall: {tagged:,} of {total:,} reads tagged -> {output}", err=True)
