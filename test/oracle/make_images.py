"""Makes the real image files the sidecar tests send: every accepted and refused kind.
Usage: python make_images.py OUT_DIR. Pillow makes what it can write; the rest (PSD, MP4, WebM,
a PNG header claiming 100000x100000, truncations) is built byte by byte here."""
import io
import pathlib
import struct
import sys
import zlib

from PIL import Image


def save(img, fmt, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    photo = Image.new("RGB", (640, 480))
    for x in range(0, 640, 8):
        for y in range(0, 480, 8):
            photo.paste(((x * 7) % 256, (y * 5) % 256, (x + y) % 256), (x, y, x + 8, y + 8))
    translucent = photo.convert("RGBA")
    translucent.putalpha(128)  # alpha makes Pillow write the extended (VP8X) form
    frames = [Image.new("RGB", (64, 48), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    files = {
        # accepted
        "photo.png": save(photo, "PNG"),
        "baseline.jpg": save(photo, "JPEG", quality=85),
        "progressive.jpg": save(photo, "JPEG", quality=85, progressive=True),
        "lossy.webp": save(photo, "WEBP", quality=80),
        "lossless.webp": save(photo, "WEBP", lossless=True),
        "extended.webp": save(translucent, "WEBP", quality=80),
        "still.gif": save(photo.convert("P"), "GIF"),
        "one-pixel.png": save(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"),
        "tall-1x4096.png": save(Image.new("RGB", (1, 4096), (1, 2, 3)), "PNG"),
        "wide-2048x1025.jpg": save(Image.new("RGB", (2048, 1025), (1, 2, 3)), "JPEG"),
        # refused
        "animated.gif": save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0),
        "animated.webp": save(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0),
        "animated.png": save(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0),
        "image.bmp": save(photo, "BMP"),
        "image.tiff": save(photo, "TIFF"),
        "image.pdf": save(photo, "PDF"),
        "image.ico": save(Image.new("RGB", (32, 32)), "ICO"),
        "image.svg": b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
        "image.psd": b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 48, 64, 8, 3) + b"\0" * 64,
        "video.mp4": struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2" + struct.pack(">I", 8) + b"moov",
        "video.webm": bytes.fromhex("1a45dfa39f4286810142f7810142f2810442f381084282847765626d") + b"\0" * 32,
        "text.txt": b"hello, this is not an image\n",
    }
    png = files["photo.png"]
    files["truncated.png"] = png[: len(png) // 2]
    jpg = files["baseline.jpg"]
    files["truncated.jpg"] = jpg[: len(jpg) - 100]
    files["truncated.gif"] = files["still.gif"][:-20]
    files["truncated.webp"] = files["lossy.webp"][:-50]
    # A valid-looking PNG whose header claims 100000x100000: refused before any decode.
    files["huge-header.png"] = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
                                + png_chunk(b"IDAT", zlib.compress(b"\0" * 16)) + png_chunk(b"IEND", b""))
    for name, data in files.items():
        (out / name).write_bytes(data)
    print(f"wrote {len(files)} images to {out}")


if __name__ == "__main__":
    main()
