"""DataFrames as PostgreSQL binary ``COPY`` data, encoded column by column with numpy.

:func:`binary_encoder` plans one encoder per column from its pandas dtype and the PostgreSQL column type
(``text``/``varchar``/``json``, ``int2``/``int4``/``int8``, ``bool``, ``float8``, ``numeric(p, s)`` with
``s <= 4``, ``timestamptz``/``timestamp``, ``date``); any other pairing returns None and the caller uses
CSV. The values are those PostgreSQL would parse from the CSV of the same frame: timestamps in UTC, a
timestamp stored in a date column by its UTC date, and floats in a numeric column rounded half away from
zero at the column's scale, exactly as their shortest decimal form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
TRAILER = b"\xff\xff"
#: Microseconds and days from the Unix epoch to PostgreSQL's (2000-01-01).
PG_EPOCH_US = 946_684_800_000_000
PG_EPOCH_DAYS = 10_957
DAY_US = 86_400_000_000
INT_RANGES = {"int2": (-(2**15), 2**15 - 1), "int4": (-(2**31), 2**31 - 1), "int8": (-(2**63), 2**63 - 1)}
TEXT_TYPES = ("text", "varchar", "json")
#: numeric: the integer part in up to this many base-10000 digits, then one fractional digit.
NUMERIC_INT_DIGITS = 5
#: A slice's padded matrix may hold this many times its bytes (plus the slack) before fields are scattered.
PADDING_FACTOR = 3
PADDING_SLACK = 1 << 22


@dataclass
class Field:
    """One column of a slice: per row its payload length (-1: NULL) and its payload, left-aligned in a row of
    ``payload``'s width (a NULL's row is ignored)."""

    lengths: np.ndarray
    payload: np.ndarray


Encoder = Callable[[pd.Series], Field]


def binary_encoder(frame: pd.DataFrame, types: Sequence[tuple[str, int]]) -> Callable[[pd.DataFrame], bytes] | None:
    """An encoder of slices of ``frame`` into tuples (the stream starts with ``HEADER``, ends with
    ``TRAILER``), given each column's PostgreSQL (type name, typmod); None when a column cannot be encoded
    exactly."""
    encoders = []
    for (_, series), (name, typmod) in zip(frame.items(), types, strict=True):
        encoder = _column_encoder(series, name, typmod)
        if encoder is None:
            return None
        encoders.append(encoder)

    def encode(part: pd.DataFrame) -> bytes:
        fields = [encoder(series) for encoder, (_, series) in zip(encoders, part.items(), strict=True)]
        return _rows(fields, len(part))

    return encode


def _column_encoder(series: pd.Series, name: str, typmod: int) -> Encoder | None:
    dtype = series.dtype
    if name in TEXT_TYPES:
        return _text if isinstance(dtype, pd.StringDtype) else None
    if name in INT_RANGES:
        low, high = INT_RANGES[name]
        if not pd.api.types.is_integer_dtype(dtype) or not _within(series, low, high):
            return None
        return lambda s: _fixed(s, f">i{np.dtype(name.replace('int', 'i')).itemsize}")
    if name == "bool":
        return _bool if pd.api.types.is_bool_dtype(dtype) else None
    if name == "float8":
        return (lambda s: _fixed(s, ">f8")) if _is_number(dtype) else None
    if name == "numeric":
        return _numeric_encoder(series, typmod)
    if name in ("timestamptz", "timestamp", "date") and pd.api.types.is_datetime64_any_dtype(dtype):
        return _date if name == "date" else _timestamp
    return None


def _is_number(dtype: object) -> bool:
    return pd.api.types.is_float_dtype(dtype) or pd.api.types.is_integer_dtype(dtype)


def _within(series: pd.Series, low: float, high: float) -> bool:
    values = series.dropna()
    return values.empty or bool(low <= values.min() and values.max() <= high)


def _valid(series: pd.Series) -> np.ndarray:
    return ~series.isna().to_numpy(dtype=bool)


def _lengths(valid: np.ndarray, width: int) -> np.ndarray:
    return np.where(valid, width, -1).astype(np.int64)


def _columns(values: np.ndarray) -> np.ndarray:
    """Fixed-width values as one row of bytes each."""
    return values.view(np.uint8).reshape(len(values), values.dtype.itemsize)


def _fixed(series: pd.Series, dtype: str) -> Field:
    kind = np.float64 if dtype.endswith("f8") else np.int64
    values = series.to_numpy(dtype=kind, na_value=0).astype(dtype)
    return Field(_lengths(_valid(series), values.dtype.itemsize), _columns(values))


def _bool(series: pd.Series) -> Field:
    values = series.to_numpy(dtype=bool, na_value=False).astype(np.uint8)
    return Field(_lengths(_valid(series), 1), _columns(values))


def _epoch_us(series: pd.Series) -> np.ndarray:
    """Microseconds since the Unix epoch (UTC for a zoned series; NaT: 0)."""
    values = series.dt.tz_convert("UTC") if getattr(series.dt, "tz", None) is not None else series
    micros = np.asarray(values.dt.as_unit("us").array.asi8)
    return np.where(_valid(series), micros, 0)


def _timestamp(series: pd.Series) -> Field:
    micros = _epoch_us(series) - PG_EPOCH_US
    return Field(_lengths(_valid(series), 8), _columns(micros.astype(">i8")))


def _date(series: pd.Series) -> Field:
    days = np.floor_divide(_epoch_us(series), DAY_US) - PG_EPOCH_DAYS
    return Field(_lengths(_valid(series), 4), _columns(days.astype(">i4")))


def _text(series: pd.Series) -> Field:
    """UTF-8 of each string, NUL-padded to the longest: all joined by NUL, then split there (a value holding a
    NUL is encoded alone, and reaches PostgreSQL, which refuses it). A column of one value (or none) is
    encoded once."""
    values = series.to_numpy(dtype=object)
    if not len(values):
        return Field(np.zeros(0, dtype=np.int64), np.zeros((0, 1), dtype=np.uint8))
    try:
        joined, missing = "\x00".join(values), None
    except TypeError:  # a missing value
        missing = pd.isna(values)
        if missing.all():
            return Field(np.full(len(values), -1, dtype=np.int64), np.zeros((len(values), 1), dtype=np.uint8))
        joined = "\x00".join(np.where(missing, "", values))
    if missing is None and values[0] == values[-1] and (values == values[0]).all():
        return _repeated(values[0], len(values))
    encoded = joined.encode("utf-8")
    parts = encoded.split(b"\x00")
    if len(parts) == len(values):
        separators = np.flatnonzero(np.frombuffer(encoded, dtype=np.uint8) == 0)
        lengths = np.diff(separators, prepend=-1, append=len(encoded)) - 1
    else:
        texts = values if missing is None else np.where(missing, "", values)
        parts = [value.encode("utf-8") for value in texts]
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    width = max(1, int(lengths.max(initial=0)))
    payload = np.array(parts, dtype=f"S{width}").view(np.uint8).reshape(len(parts), width)
    return Field(lengths if missing is None else np.where(missing, -1, lengths), payload)


def _repeated(value: str, rows: int) -> Field:
    """``rows`` times the same string."""
    encoded = value.encode("utf-8")
    payload = np.frombuffer(encoded or b"\x00", dtype=np.uint8)
    return Field(np.full(rows, len(encoded), dtype=np.int64), np.broadcast_to(payload, (rows, len(payload))))


def _numeric_encoder(series: pd.Series, typmod: int) -> Encoder | None:
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
    return lambda s: _numeric(s, scale)


def _scaled(series: pd.Series, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Absolute values times ``10**scale`` rounded half away from zero (NULL: 0), and which are negative."""
    if pd.api.types.is_integer_dtype(series.dtype):
        ints = series.to_numpy(dtype=np.int64, na_value=0)
        return np.abs(ints) * 10**scale, ints < 0
    floats = series.to_numpy(dtype=np.float64, na_value=0.0)
    shifted = np.abs(floats) * 10**scale
    rounded = np.floor(shifted + 0.5)
    for row in np.flatnonzero(np.abs(shifted - np.floor(shifted) - 0.5) < 1e-3):
        exact = Decimal(repr(abs(float(floats[row])))).scaleb(scale)  # its shortest decimal form, rounded
        rounded[row] = float(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return rounded.astype(np.int64), floats < 0


def _numeric(series: pd.Series, scale: int) -> Field:
    """Header (ndigits, weight, sign, dscale) and base-10000 digits: the integer part, one fractional digit."""
    magnitude, negative = _scaled(series, scale)
    whole, fraction = np.divmod(magnitude, 10**scale)
    digits = np.empty((len(magnitude), 4 + NUMERIC_INT_DIGITS + 1), dtype=">i2")
    digits[:, 0] = NUMERIC_INT_DIGITS + 1
    digits[:, 1] = NUMERIC_INT_DIGITS - 1
    digits[:, 2] = np.where(negative & (magnitude > 0), 0x4000, 0)
    digits[:, 3] = scale
    for place in range(NUMERIC_INT_DIGITS):
        digits[:, 4 + NUMERIC_INT_DIGITS - 1 - place] = whole // 10_000**place % 10_000
    digits[:, -1] = fraction * 10 ** (4 - scale)
    payload = digits.view(np.uint8).reshape(len(digits), digits.shape[1] * 2)
    return Field(_lengths(_valid(series), payload.shape[1]), payload)


def _rows(fields: list[Field], rows: int) -> bytes:
    """The tuples: per row the field count, then per field its length (-1: NULL) and payload.

    Each row is laid out in one record, every field at the same offset (its payload padded to the field's
    width), then the padding is dropped by a mask. When padding would be most of the records (one long
    string), each field is scattered to its place instead.
    """
    widths = [f.payload.shape[1] for f in fields]
    used = [np.maximum(f.lengths, 0) for f in fields]
    actual = rows * (2 + 4 * len(fields)) + sum(int(u.sum()) for u in used)
    if rows * (2 + 4 * len(fields) + sum(widths)) > PADDING_FACTOR * actual + PADDING_SLACK:
        return _scattered(fields, used, rows)
    layout = _layout(widths)
    records = np.empty(rows, dtype=layout)
    records["count"] = len(fields)
    keep: np.ndarray | None = None
    for number, (field, width, size) in enumerate(zip(fields, widths, used, strict=True)):
        records[f"length{number}"] = field.lengths
        records[f"payload{number}"] = np.ascontiguousarray(field.payload).view(f"V{width}")[:, 0]
        if field.lengths.min(initial=0) < width:
            if keep is None:
                keep = np.ones(rows * layout.itemsize, dtype=np.uint8).view(layout)
            patterns = (np.arange(width) < np.arange(width + 1)[:, None]).view(f"V{width}")[:, 0]
            keep[f"payload{number}"] = patterns[size]
    if keep is None:
        return records.tobytes()
    return records.view(np.uint8)[keep.view(bool)].tobytes()


def _layout(widths: list[int]) -> np.dtype:
    """The packed record of one row: the field count, then per field its length and padded payload."""
    names, formats, offsets, offset = ["count"], [">i2"], [0], 2
    for number, width in enumerate(widths):
        names += [f"length{number}", f"payload{number}"]
        formats += [">i4", f"V{width}"]
        offsets += [offset, offset + 4]
        offset += 4 + width
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": offset})


def _scattered(fields: list[Field], used: list[np.ndarray], rows: int) -> bytes:
    """As :func:`_rows`, each field's bytes scattered to their offsets in the output."""
    sizes = np.full(rows, 2 + 4 * len(fields), dtype=np.int64)
    for size in used:
        sizes += size
    starts = np.zeros(rows, dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    out[starts[:, None] + np.arange(2)] = np.frombuffer(np.array(len(fields), dtype=">i2").tobytes(), np.uint8)
    position = starts + 2
    for field, size in zip(fields, used, strict=True):
        out[position[:, None] + np.arange(4)] = _columns(field.lengths.astype(">i4"))
        position += 4
        data = field.payload[np.arange(field.payload.shape[1]) < size[:, None]]
        offsets = np.cumsum(size) - size
        out[np.repeat(position - offsets, size) + np.arange(len(data))] = data
        position += size
    return out.tobytes()
