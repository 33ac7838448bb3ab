"""The TensorFlow-free TFRecord writer: Examples TensorFlow parses identically, records its reader accepts, and a
make_examples run that never imports TensorFlow."""
from __future__ import annotations

import os
import subprocess
import sys

from deepvariant_py import tfrecord
from deepvariant_py.errors import InputError
from deepvariant_py.tf_runtime import tensorflow

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "testdata")


def test_crc32c_check_value_and_mask():
    assert tfrecord.google_crc32c.value(b"123456789") == 0xE3069283  # the standard CRC-32C check value
    crc = 0xE3069283
    assert tfrecord.masked_crc(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_examples_parse_as_tensorflow_builds_them(tmp_path):
    tf = tensorflow()
    values = [0, 1, 127, 128, 300, 2 ** 40, -5]
    mine = tfrecord.example({"b": tfrecord.int64_feature(values), "a": tfrecord.bytes_feature(b"\x00xyz"),
                             "e": tfrecord.bytes_feature(b"")})
    theirs = tf.train.Example(features=tf.train.Features(feature={
        "a": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"\x00xyz"])),
        "b": tf.train.Feature(int64_list=tf.train.Int64List(value=values)),
        "e": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b""]))}))
    assert tf.train.Example.FromString(mine) == theirs
    path = str(tmp_path / "x.tfrecord.gz")
    writer = tfrecord.TFRecordWriter(path)
    for _ in range(3):
        writer.write(mine)
    writer.close()
    records = list(tf.data.TFRecordDataset(path, compression_type="GZIP"))  # checks both CRCs of every record
    assert len(records) == 3 and all(tf.train.Example.FromString(r.numpy()) == theirs for r in records)


def test_make_examples_does_not_import_tensorflow(tmp_path):
    code = (
        "import sys\n"
        "from deepvariant_py.make_examples import MakeExamplesOptions, make_examples\n"
        "from deepvariant_py.regions import Region\n"
        f"stats = make_examples({os.path.join(TESTDATA, 'ucsc.hg19.chr20.unittest.fasta.gz')!r}, "
        f"{os.path.join(TESTDATA, 'NA12878.chr20_10.00-10.02Mb.bam')!r}, {str(tmp_path / 'e.tfrecord.gz')!r}, "
        "[Region('chr20', 10_002_000, 10_003_000)], MakeExamplesOptions())\n"
        "assert stats.examples > 0, stats\n"
        "assert 'tensorflow' not in sys.modules, 'make_examples imported TensorFlow'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=os.path.dirname(TESTDATA))
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_records_read_back_without_tensorflow_and_damage_is_caught(tmp_path):
    import gzip

    import pytest

    values = [0, 1, 300, 2 ** 40, -5]
    record = tfrecord.example({"b": tfrecord.int64_feature(values), "a": tfrecord.bytes_feature(b"\x00xyz"),
                               "e": tfrecord.bytes_feature(b""), "n": tfrecord.int64_feature([])})
    path = str(tmp_path / "x.tfrecord.gz")
    writer = tfrecord.TFRecordWriter(path)
    for _ in range(2):
        writer.write(record)
    writer.close()
    records = list(tfrecord.read_records(path))
    assert records == [record, record]
    assert tfrecord.parse_example(record) == {"a": b"\x00xyz", "b": values, "e": b"", "n": []}
    data = bytearray(gzip.open(path).read())
    data[20] ^= 1  # a byte inside the first record's data
    with gzip.open(path, "wb") as fh:
        fh.write(bytes(data))
    with pytest.raises(InputError, match="record 0 is damaged"):
        list(tfrecord.read_records(path))


def test_a_file_cut_inside_its_gzip_stream_is_one_input_error(tmp_path):
    """Whole records first, then the gzip stream ends early (EOFError inside gzip): one InputError naming the file."""
    path = str(tmp_path / "x.tfrecord.gz")
    w = tfrecord.TFRecordWriter(path)
    for _ in range(4):
        w.write(os.urandom(20_000))  # incompressible: the cut lands inside the compressed stream
    w.close()
    with open(path, "rb") as fh:
        data = fh.read()
    with open(path, "wb") as fh:
        fh.write(data[:50_000])
    try:
        list(tfrecord.read_records(path))
    except InputError as exc:
        assert "x.tfrecord.gz: the file is truncated or corrupt after record 2" in str(exc) and "make the examples again" in str(exc)
    else:
        raise AssertionError("no InputError")
