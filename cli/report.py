"""`dvcall report`: the HTML report of any VCF (also written by `run --report`)."""
import click

from deepvariant_py.outputs import check_outputs
from deepvariant_py.report import write_report

from .common import user_errors


@click.command("report")
@click.option("--vcf", required=True, type=click.Path(), help="VCF to summarise (dvcall's or any other VCF).")
@click.option("--sample", default=None, help="Which sample of a VCF with several to summarise. Default: the first.")
@click.option("--output", required=True, type=click.Path(), help="HTML file to write; it needs no network to open.")
@click.option("--title", default=None, help="Page title. Default: 'dvcall report: <VCF name>'.")
@click.option("--quiet", is_flag=True, help="Only print warnings and errors.")
@user_errors
def report_cmd(vcf, sample, output, title, quiet):
    """One self-contained HTML page: variant types, Ti/Tv, QUAL, GQ, VAF, indel length and depth plots."""
    check_outputs({"--output": output}, {"--vcf": vcf})  # its index files too
    summary = write_report(vcf, output, title, sample)
    if not quiet:
        click.echo(f"dvcall: report of sample {summary.sample} ({summary.records:,} records, {summary.by_filter['PASS']:,} PASS) -> {output}", err=True)
