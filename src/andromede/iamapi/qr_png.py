"""The QR code PNG of CreateVirtualMFADevice (``QRCodePNG``), drawn a row of bytes at a time.

qrcode's ``PyPNGImage`` hands pypng each pixel row as a list of ints, which pypng packs eight
pixels to a byte in Python: two thirds of the call (~35 ms of ~50 for an authenticator URI).
:class:`PackedPngImage` gives pypng the rows already packed (``write_packed``), built with bytes
operations; the PNG is the same, byte for byte (same writer, same rows: a unit test compares
the two)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import qrcode
from qrcode.image.pure import PyPNGImage

__all__ = ["PackedPngImage", "qr_png"]

# A dark module is a 0 bit (black) in the greyscale image, a light one a 1 (white).
_BITS_AS_DIGITS = bytes.maketrans(b"\x00\x01", b"01")


def qr_png(text: str) -> bytes:
    drawn = io.BytesIO()
    qrcode.make(text, image_factory=PackedPngImage).save(drawn)
    return drawn.getvalue()


class PackedPngImage(PyPNGImage):
    def save(self, stream: Any, kind: str | None = None) -> None:
        self.get_image().write_packed(stream, self.packed_rows())

    def packed_rows(self) -> Iterator[bytes]:
        """What ``PyPNGImage.rows_iter`` yields, each row packed as a 1-bit PNG row."""
        margin = b"\x01" * (self.box_size * self.border)
        blank = self._packed(b"\x01" * self.pixel_size)
        for _ in range(self.border * self.box_size):
            yield blank
        for modules in self.modules:
            pixels = b"".join((b"\x00" if dark else b"\x01") * self.box_size for dark in modules)
            row = self._packed(margin + pixels + margin)
            for _ in range(self.box_size):
                yield row
        for _ in range(self.border * self.box_size):
            yield blank

    @staticmethod
    def _packed(pixels: bytes) -> bytes:
        """One byte per pixel (0 or 1) to eight pixels a byte, the first in the high bit, the
        last byte padded with zeros as PNG rows are."""
        padded = pixels + b"\x00" * (-len(pixels) % 8)
        return int(padded.translate(_BITS_AS_DIGITS), 2).to_bytes(len(padded) // 8, "big")
