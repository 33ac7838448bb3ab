"""`dvcall eval`: precision/recall/F1 against a truth VCF."""
import logging

import click

from deepvariant_py.evaluate import ERROR_FIELDS, evaluate_errors
from deepvariant_py.outputs import atomic_outputs, check_outputs, open_text, write_json
from deepvariant_py.reference import Reference
from deepvariant_py.regions import parse_regions, region_file_inputs

from .common import user_errors

log = logging.getLogger("dvcall")


@click.command("eval")
@click.option("--truth", required=True, type=click.Path(), help="Truth VCF (bgzipped or plain).")
@click.option("--query", required=True, type=click.Path(), help="VCF to evaluate; only PASS records count.")
@click.option("--ref", required=True, type=click.Path(), help="Reference FASTA, for normalising indels.")
@click.option("--bed", type=click.Path(), default=None, help="Confident regions: only variants inside count.")
@click.option("--regions", multiple=True, help="Restrict to these regions (strings or BED); repeatable.")
@click.option("--truth-sample", default=None, help="Which sample of a truth VCF with several to score. Default: the first.")
@click.option("--query-sample", default=None, help="Which sample of a query VCF with several to score. Default: the first.")
@click.option("--json", "json_out", type=click.Path(), default=None,
              help="Also write the table as JSON here (gzipped when the name ends in .gz).")
@click.option("--errors", "errors_out", type=click.Path(), default=None,
              help="Also write each allele behind the FP and FN counts here, one per line (TSV, gzipped when the name "
                   "ends in .gz; in reference order): error (FP: called, not true; FN: true, not called; GT: both, "
                   "with the wrong number of copies), SNP or INDEL, contig, pos, ref, alt as normalised (an indel "
                   "left-aligned: pos may lie left of the record's POS), copies in the truth and the query (1 "
                   "heterozygous, 2 homozygous or haploid, more where overlapping records carry the same allele), "
                   "the context (homopolymer >= 6, tandem_repeat, other), and the POS of each truth and query "
                   "record it came from (comma-separated where one allele was written twice; '.' on a side without "
                   "it), to look the calls up by.")
@click.option("--quiet", is_flag=True, help="Only print warnings and errors.")
@user_errors
def eval_cmd(truth, query, ref, bed, regions, truth_sample, query_sample, json_out, errors_out, quiet):
    """Genotype-aware SNP and INDEL precision, recall and F1 after normalising both VCFs."""
    check_outputs({"--json": json_out, "--errors": errors_out},
                  {"--truth": truth, "--query": query, "--ref": ref, "--bed": bed, **region_file_inputs({"--regions": regions})})
    lengths = Reference(ref).lengths
    regs = [(r.contig, r.start, r.end) for r in parse_regions(list(regions), lengths)] if regions else None
    result, errors = evaluate_errors(truth, query, ref, regions=regs, bed=bed, sample_truth=truth_sample,
                                     sample_query=query_sample)
    if not any(c.tp or c.fp or c.fn for c in (result.snp, result.indel)):
        log.warning("neither VCF has a variant where this evaluation looks%s: every count is 0",
                    " (--regions, --bed)" if regions or bed else "")
    click.echo(result.table())
    paths = [path for path in (json_out, errors_out) if path]
    with atomic_outputs([(path, "", ()) for path in paths]) as tmps:  # both appear, or neither
        tmp = dict(zip(paths, tmps))
        if json_out:
            write_json(tmp[json_out], result.to_dict(), indent=2, gzipped=json_out.endswith(".gz"))
        if errors_out:
            with open_text(tmp[errors_out], gzipped=errors_out.endswith(".gz")) as fh:
                fh.write("\t".join(ERROR_FIELDS) + "\n" + "".join(e.row() + "\n" for e in errors))
