"""Reading the deadline a request carries."""

from __future__ import annotations

import pytest

from actuator.overload.deadline import BadDeadline, request_deadline


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ([(b"x-request-timeout", b"1.5")], 1.5),
        ([(b"Request-Timeout", b"2")], 2.0),
        ([(b"grpc-timeout", b"250m")], 0.25),
        ([(b"grpc-timeout", b"3S")], 3.0),
        ([(b"grpc-timeout", b"2M")], 120.0),
        ([(b"grpc-timeout", b"1H")], 3600.0),
        ([(b"grpc-timeout", b"500000u")], 0.5),
        ([(b"grpc-timeout", b"50000000n")], 0.05),
        ([(b"grpc-timeout", b"1S"), (b"x-request-timeout", b"0.2")], 0.2),
        ([(b"request-timeout", b"4"), (b"x-request-timeout", b"0.2")], 0.2),
    ],
)
def test_deadlines_are_read_in_seconds_from_each_spelling(headers, seconds: float) -> None:
    assert request_deadline(headers) == pytest.approx(seconds)


def test_a_request_without_a_deadline_header_has_none() -> None:
    assert request_deadline([(b"host", b"example"), (b"accept", b"*/*")]) is None


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (b"x-request-timeout", b"soon"),
        (b"x-request-timeout", b"0"),
        (b"x-request-timeout", b"-1"),
        (b"x-request-timeout", b"inf"),
        (b"x-request-timeout", b"nan"),
        (b"x-request-timeout", b"1e3"),
        (b"request-timeout", b""),
        (b"grpc-timeout", b"5"),
        (b"grpc-timeout", b"123456789S"),
        (b"grpc-timeout", b"1s"),
        (b"grpc-timeout", b"0m"),
        (b"grpc-timeout", b"1.5S"),
    ],
)
def test_a_malformed_deadline_is_an_error_naming_the_header(header: bytes, value: bytes) -> None:
    with pytest.raises(BadDeadline, match=header.decode()):
        request_deadline([(header, value)])
