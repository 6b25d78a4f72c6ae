"""CreateVirtualMFADevice's QR code PNG, rows packed by Andromède: the PNG qrcode's own pure
image writes, byte for byte, and its pixels the code's modules."""

from __future__ import annotations

import io

import png
import pytest
import qrcode
from qrcode.image.pure import PyPNGImage

from andromede.iamapi.qr_png import qr_png

URI = (
    "otpauth://totp/Andromede:gil-phone@123456789012"
    "?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Andromede"
)


# Codes of several versions (sizes), each row ending in a padded byte (the width is 10 pixels
# a module, 2 past a multiple of 8).
@pytest.mark.parametrize("text", ["x", "a" * 20, "b" * 40, URI, URI * 3, "c" * 300])
def test_the_png_is_qrcodes_own(text: str) -> None:
    drawn = io.BytesIO()
    qrcode.make(text, image_factory=PyPNGImage).save(drawn)
    assert qr_png(text) == drawn.getvalue()


def test_each_pixel_is_its_module() -> None:
    code = qrcode.QRCode()
    code.add_data(URI)
    matrix = code.get_matrix()  # the border's modules included, all light
    width, height, rows, info = png.Reader(bytes=qr_png(URI)).read()
    assert (info["greyscale"], info["bitdepth"]) == (True, 1)
    assert width == height == len(matrix) * 10
    pixels = [list(row) for row in rows]
    for y, modules in enumerate(matrix):
        for x, dark in enumerate(modules):
            assert pixels[y * 10 + 5][x * 10 + 5] == (0 if dark else 1), (x, y)
