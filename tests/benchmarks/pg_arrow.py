"""pandas frames as Arrow data typed for PostgreSQL columns, for the maintained encoders the landing benchmark
compares with ``bolsync.warehouse.pg_binary``: pgpq (``ArrowToPostgresBinaryEncoder``, encode only: its bytes
go through the product's own ``COPY`` on the product's connection) and ADBC (``adbc_ingest`` on a connection
of its own).

:func:`arrow_converter` gives the same values as ``pg_binary``: each PostgreSQL type gets the Arrow type whose
binary form PostgreSQL reads for it (``int4`` from ``int32``, ``numeric(p, s)`` from ``decimal128(38, s)``,
``date`` from ``date32``); floats bound for a numeric column are rounded half away from zero at the column's
scale as their shortest decimal form (``pg_binary._scaled``), as PostgreSQL parses the CSV of the same frame.
It refuses what ``pg_binary`` refuses, so both take the same columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bolsync.warehouse import pg_binary

Converter = Callable[[pd.DataFrame], Any]


def available() -> str | None:
    """None when pyarrow and pgpq import, else why not."""
    try:
        import pgpq  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as error:
        return str(error)
    return None


def adbc_available() -> str | None:
    try:
        import adbc_driver_postgresql.dbapi  # noqa: F401
    except ImportError as error:
        return str(error)
    return None


def arrow_converter(frame: pd.DataFrame, types: Sequence[tuple[str, int]]) -> Converter | None:
    """A function from a slice of ``frame`` to a ``pyarrow.RecordBatch`` typed for the PostgreSQL columns
    ``types`` ((type name, typmod) each); None where ``pg_binary`` would fall back to CSV."""
    import pyarrow as pa

    if pg_binary.binary_encoder(frame, types) is None:
        return None
    columns = [_column(name, typmod) for name, typmod in types]
    names = [str(c) for c in frame.columns]

    def convert(part: pd.DataFrame) -> Any:
        arrays = [convert_column(series) for convert_column, (_, series) in zip(columns, part.items(), strict=True)]
        return pa.RecordBatch.from_arrays(arrays, names=names)

    return convert


def _column(name: str, typmod: int) -> Callable[[pd.Series], Any]:
    import pyarrow as pa

    if name in pg_binary.TEXT_TYPES:
        return lambda s: _combined(pa.array(s.array, type=pa.large_string(), from_pandas=True))
    if name in pg_binary.INT_RANGES:
        kind = {"int2": pa.int16(), "int4": pa.int32(), "int8": pa.int64()}[name]
        return lambda s: pa.array(s.to_numpy(dtype=np.int64, na_value=0), mask=_missing(s)).cast(kind)
    if name == "bool":
        return lambda s: pa.array(s.to_numpy(dtype=bool, na_value=False), mask=_missing(s))
    if name == "float8":
        return lambda s: pa.array(s.to_numpy(dtype=np.float64, na_value=0.0), mask=_missing(s))
    if name == "numeric":
        scale = (typmod - 4) & 0xFFFF
        return lambda s: _decimal(s, scale)
    if name == "date":
        return lambda s: _date(s)
    return lambda s: pa.array(pg_binary._epoch_us(s), type=pa.timestamp("us", tz="UTC"), mask=_missing(s))


def _combined(array: Any) -> Any:
    import pyarrow as pa

    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _missing(series: pd.Series) -> np.ndarray:
    return series.isna().to_numpy(dtype=bool)


def _validity(series: pd.Series) -> Any:
    import pyarrow as pa

    missing = _missing(series)
    if not missing.any():
        return None
    return pa.py_buffer(np.packbits(~missing, bitorder="little"))


def _decimal(series: pd.Series, scale: int) -> Any:
    """``decimal128(38, scale)``: the little-endian 128-bit integers of ``pg_binary._scaled``."""
    import pyarrow as pa

    magnitude, negative = pg_binary._scaled(series, scale)
    signed = np.where(negative, -magnitude, magnitude).astype(np.int64)
    words = np.empty((len(signed), 2), dtype="<i8")
    words[:, 0] = signed
    words[:, 1] = signed >> 63
    return pa.Array.from_buffers(pa.decimal128(38, scale), len(signed), [_validity(series), pa.py_buffer(words)])


def _date(series: pd.Series) -> Any:
    import pyarrow as pa

    days = np.floor_divide(pg_binary._epoch_us(series), pg_binary.DAY_US).astype(np.int32)
    return pa.array(days, mask=_missing(series)).cast(pa.date32())


def pgpq_encoder(frame: pd.DataFrame, types: Sequence[tuple[str, int]]) -> Callable[[pd.DataFrame], bytes] | None:
    """A drop-in for ``pg_binary.binary_encoder``: each slice converted to Arrow, then encoded by pgpq.

    pgpq's encoder holds back what ``write_batch`` encodes until its buffer fills and hands the rest out with
    the trailer on ``finish``, so each slice gets an encoder of its own and its tuples are what both give,
    less the trailer (the stream's header and trailer are ``pg_binary``'s, the same bytes as pgpq's).
    """
    import pgpq

    convert = arrow_converter(frame, types)
    if convert is None:
        return None
    schema = convert(frame.iloc[:0]).schema

    def encode(part: pd.DataFrame) -> bytes:
        encoder = pgpq.ArrowToPostgresBinaryEncoder(schema)
        assert encoder.write_header() == pg_binary.HEADER
        tuples = encoder.write_batch(convert(part)) + encoder.finish()
        assert tuples.endswith(pg_binary.TRAILER)
        return tuples[: -len(pg_binary.TRAILER)]

    return encode
