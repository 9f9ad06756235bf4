"""DataFrames as PostgreSQL binary ``COPY`` data: each slice converted to Arrow, typed for its columns, and
encoded by pgpq (``ArrowToPostgresBinaryEncoder``).

:func:`binary_encoder` plans one conversion per column from its pandas dtype and the PostgreSQL column type
(``text``/``varchar``/``json``, ``int2``/``int4``/``int8``, ``bool``, ``float8``, ``numeric(p, s)`` with
``s <= 4``, ``timestamptz``/``timestamp``, ``date``); any other pairing returns None and the caller uses
CSV. The values are those PostgreSQL would parse from the CSV of the same frame: timestamps in UTC, a
timestamp stored in a date column by its UTC date, and floats in a numeric column rounded half away from
zero at the column's scale, exactly as their shortest decimal form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
TRAILER = b"\xff\xff"
DAY_US = 86_400_000_000
INT_RANGES = {"int2": (-(2**15), 2**15 - 1), "int4": (-(2**31), 2**31 - 1), "int8": (-(2**63), 2**63 - 1)}
TEXT_TYPES = ("text", "varchar", "json")

Column = Callable[[pd.Series], Any]


def binary_encoder(frame: pd.DataFrame, types: Sequence[tuple[str, int]]) -> Callable[[pd.DataFrame], bytes] | None:
    """An encoder of slices of ``frame`` into tuples (the stream starts with ``HEADER``, ends with
    ``TRAILER``), given each column's PostgreSQL (type name, typmod); None when a column cannot be encoded
    exactly.

    pgpq holds back what ``write_batch`` encodes until its buffer fills and hands out the rest with the
    trailer on ``finish``: each slice gets an encoder of its own, and its tuples are what both return, less
    the trailer.
    """
    import pgpq

    convert = arrow_converter(frame, types)
    if convert is None:
        return None
    schema = convert(frame.iloc[:0]).schema

    def encode(part: pd.DataFrame) -> bytes:
        encoder = pgpq.ArrowToPostgresBinaryEncoder(schema)
        encoder.write_header()
        tuples = encoder.write_batch(convert(part)) + encoder.finish()
        return tuples[: -len(TRAILER)]

    return encode


def arrow_converter(frame: pd.DataFrame, types: Sequence[tuple[str, int]]) -> Callable[[pd.DataFrame], Any] | None:
    """A function from a slice of ``frame`` to a ``pyarrow.RecordBatch`` whose binary form PostgreSQL reads for
    the columns ``types`` (``int4`` from ``int32``, ``numeric(p, s)`` from ``decimal128(38, s)``, ``date``
    from ``date32``); None when a column cannot be encoded exactly."""
    import pyarrow as pa

    columns = []
    for (_, series), (name, typmod) in zip(frame.items(), types, strict=True):
        column = _column(series, name, typmod)
        if column is None:
            return None
        columns.append(column)
    names = [str(c) for c in frame.columns]

    def convert(part: pd.DataFrame) -> Any:
        arrays = [column(series) for column, (_, series) in zip(columns, part.items(), strict=True)]
        return pa.RecordBatch.from_arrays(arrays, names=names)

    return convert


def _column(series: pd.Series, name: str, typmod: int) -> Column | None:
    import pyarrow as pa

    dtype = series.dtype
    if name in TEXT_TYPES:
        return _text if isinstance(dtype, pd.StringDtype) else None
    if name in INT_RANGES:
        low, high = INT_RANGES[name]
        if not pd.api.types.is_integer_dtype(dtype) or not _within(series, low, high):
            return None
        kind = {"int2": pa.int16(), "int4": pa.int32(), "int8": pa.int64()}[name]
        return lambda s: pa.array(s.to_numpy(dtype=np.int64, na_value=0), mask=_missing(s)).cast(kind)
    if name == "bool":
        if not pd.api.types.is_bool_dtype(dtype):
            return None
        return lambda s: pa.array(s.to_numpy(dtype=bool, na_value=False), mask=_missing(s))
    if name == "float8":
        if not _is_number(dtype):
            return None
        return lambda s: pa.array(s.to_numpy(dtype=np.float64, na_value=0.0), mask=_missing(s))
    if name == "numeric":
        return _numeric_column(series, typmod)
    if name in ("timestamptz", "timestamp", "date") and pd.api.types.is_datetime64_any_dtype(dtype):
        return _date if name == "date" else _timestamp
    return None


def _is_number(dtype: object) -> bool:
    return pd.api.types.is_float_dtype(dtype) or pd.api.types.is_integer_dtype(dtype)


def _within(series: pd.Series, low: float, high: float) -> bool:
    values = series.dropna()
    return values.empty or bool(low <= values.min() and values.max() <= high)


def _missing(series: pd.Series) -> np.ndarray:
    return series.isna().to_numpy(dtype=bool)


def _validity(series: pd.Series) -> Any:
    """An Arrow validity bitmap of the series (None: no value missing)."""
    import pyarrow as pa

    missing = _missing(series)
    if not missing.any():
        return None
    return pa.py_buffer(np.packbits(~missing, bitorder="little"))


def _text(series: pd.Series) -> Any:
    """``large_string`` (no copy when pandas already holds the strings in Arrow)."""
    import pyarrow as pa

    array = pa.array(series.array, type=pa.large_string(), from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _epoch_us(series: pd.Series) -> np.ndarray:
    """Microseconds since the Unix epoch (UTC for a zoned series; NaT: 0)."""
    values = series.dt.tz_convert("UTC") if getattr(series.dt, "tz", None) is not None else series
    micros = np.asarray(values.dt.as_unit("us").array.asi8)
    return np.where(_missing(series), 0, micros)


def _timestamp(series: pd.Series) -> Any:
    import pyarrow as pa

    return pa.array(_epoch_us(series), type=pa.timestamp("us", tz="UTC"), mask=_missing(series))


def _date(series: pd.Series) -> Any:
    import pyarrow as pa

    days = np.floor_divide(_epoch_us(series), DAY_US).astype(np.int32)
    return pa.array(days, mask=_missing(series)).cast(pa.date32())


def _numeric_column(series: pd.Series, typmod: int) -> Column | None:
    """numeric(p, s) with ``s <= 4`` from integers, or from finite floats below 10**15."""
    scale = (typmod - 4) & 0xFFFF if typmod >= 4 else -1
    if not 0 <= scale <= 4 or not _is_number(series.dtype):
        return None
    values = series.dropna()
    if pd.api.types.is_float_dtype(series.dtype):
        floats = values.to_numpy(dtype=np.float64)
        if not np.isfinite(floats).all() or (len(floats) and np.abs(floats).max() >= 1e15):
            return None
    elif not _within(series, -(10**15), 10**15):
        return None
    return lambda s: _decimal(s, scale)


def _scaled(series: pd.Series, scale: int) -> np.ndarray:
    """The values times ``10**scale``, rounded half away from zero as their shortest decimal form (NULL: 0)."""
    if pd.api.types.is_integer_dtype(series.dtype):
        return series.to_numpy(dtype=np.int64, na_value=0) * 10**scale
    floats = series.to_numpy(dtype=np.float64, na_value=0.0)
    shifted = np.abs(floats) * 10**scale
    rounded = np.floor(shifted + 0.5)
    for row in np.flatnonzero(np.abs(shifted - np.floor(shifted) - 0.5) < 1e-3):
        exact = Decimal(repr(abs(float(floats[row])))).scaleb(scale)  # its shortest decimal form, rounded
        rounded[row] = float(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return np.where(floats < 0, -rounded, rounded).astype(np.int64)


def _decimal(series: pd.Series, scale: int) -> Any:
    """``decimal128(38, scale)`` from the scaled integers: little-endian, 128 bits each."""
    import pyarrow as pa

    scaled = _scaled(series, scale)
    words = np.empty((len(scaled), 2), dtype="<i8")
    words[:, 0] = scaled
    words[:, 1] = scaled >> 63
    return pa.Array.from_buffers(pa.decimal128(38, scale), len(scaled), [_validity(series), pa.py_buffer(words)])
