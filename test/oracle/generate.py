"""Test-only oracle: builds a seeded corpus of chat requests and counts their prompt tokens with
mistral-common, the reference vLLM runs for Pixtral (`--tokenizer-mode mistral`).

Writes .cache/oracle/corpus.json: [{"id", "request", "max_tokens", "prompt_tokens"}]. Images are
real files made with Pillow and sent as data: URLs, so the reference decodes them as vLLM would.
Usage: python generate.py [out.json] [--count N]
"""
import base64
import io
import json
import pathlib
import random
import sys

from PIL import Image
from mistral_common.exceptions import MistralCommonException
from mistral_common.protocol.instruct.request import ChatCompletionRequest
from mistral_common.protocol.instruct.validator import ValidationMode
from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEKKEN = ROOT / ".cache" / "tekken" / "tekken.json"

SAMPLES = [
    "Hello, world! How are you today?",
    "Describe this picture in detail, please.",
    "Bonjour à tous, ça va très bien. L'été est arrivé !",
    "Grüße aus München: Straße, Größe, Äpfel und Öl.",
    "¿Dónde está la biblioteca? ¡Vamos rápido!",
    "Привет, как дела? Съешь же ещё этих мягких французских булок.",
    "Καλημέρα κόσμε, τι κάνεις;",
    "مرحبا بالعالم، كيف حالك اليوم؟",
    "שלום עולם, מה שלומך?",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "ওহে বিশ্ব, তুমি কেমন আছ?",
    "สวัสดีชาวโลก คุณเป็นอย่างไรบ้าง",
    "你好，世界！今天天气很好。我们去公园散步吧。",
    "こんにちは世界。カタカナとひらがな、漢字を混ぜて書きます。",
    "안녕하세요 세계! 오늘 날씨가 좋네요.",
    "Xin chào thế giới, bạn có khỏe không?",
    "Merhaba dünya, nasılsın? Çok güzel bir gün.",
    "Emoji: 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇯🇵 ❤️‍🔥 🧑🏿‍💻",
    "def f(x):\n    return x ** 2  # square\n\nprint(f(12345))",
    "Math: ∑ᵢ xᵢ² ≤ ∫₀^∞ e^{-t} dt ≈ 3.14159 → ∞",
    "Combining: e\u0301 a\u0308 n\u0303 Z\u0351\u0352\u0353",
    "Whitespace:\t tabs\r\nCRLF\u0085NEL\u00a0NBSP\u3000IDEO\ufeffBOM  end",
    "Numbers 1234567890 and 3.14e-10, dates 2024-09-11.",
    "URL https://example.com/a/b?c=d&e=f#frag and email a.b@example.org",
    "   leading spaces and trailing spaces   ",
    "[INST] not a special token [/INST] <s> </s> [IMG]",
    "ALL CAPS SHOUTING, MixedCase CamelCaseWords, snake_case_words",
    "\n\n\nnewlines\n\n\n",
    "Ünïcödé ñ ç ø å æ œ ß ł đ ħ",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
]

SIZES = [(1, 1), (10, 10), (16, 16), (17, 17), (300, 212), (200, 311), (512, 512), (800, 600),
         (1024, 768), (1024, 1024), (1025, 1), (2000, 1000), (2048, 1025), (2048, 33), (4096, 1026),
         (2000, 1001), (1920, 1080), (251, 1374), (1, 4096), (4000, 1), (3024, 4032), (33, 2048)]


def random_text(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.08:
        # Long text: many samples joined, up to tens of kilobytes.
        return " ".join(rng.choice(SAMPLES) for _ in range(rng.randint(50, 400)))
    if kind < 0.15:
        # Random code points, BMP and astral, letters, marks, symbols and controls mixed.
        return "".join(chr(rng.choice([rng.randint(0x20, 0x7E), rng.randint(0xA0, 0x2FFF),
                                        rng.randint(0x3000, 0xD7FF), rng.randint(0x1F300, 0x1FAFF)]))
                       for _ in range(rng.randint(1, 200)))
    if kind < 0.2:
        return rng.choice(["", " ", "\n", "a", "12", "  x  "])
    parts = [rng.choice(SAMPLES) for _ in range(rng.randint(1, 4))]
    return rng.choice([" ", "\n", "\n\n", ""]).join(parts)


def image_url(rng: random.Random, cache: dict) -> str:
    w, h = rng.choice(SIZES) if rng.random() < 0.6 else (rng.randint(1, 3000), rng.randint(1, 3000))
    fmt = rng.choice(["PNG", "PNG", "JPEG", "WEBP", "GIF"])
    if fmt == "WEBP" and max(w, h) > 16383:
        fmt = "PNG"
    key = (w, h, fmt)
    if key not in cache:
        img = Image.new("RGB", (w, h), (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)))
        buf = io.BytesIO()
        img.save(buf, format=fmt)
        mime = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp", "GIF": "gif"}[fmt]
        cache[key] = f"data:image/{mime};base64," + base64.b64encode(buf.getvalue()).decode()
    return cache[key]


def random_request(rng: random.Random, cache: dict, n_images: int) -> list:
    messages = []
    if rng.random() < 0.6:
        messages.append({"role": "system", "content": random_text(rng) or "You are a helpful assistant."})
    turns = rng.randint(1, 5)
    images_left = n_images
    for t in range(turns):
        last = t == turns - 1
        for _ in range(1 if rng.random() < 0.8 else 2):  # sometimes consecutive user messages
            k = images_left if last else rng.randint(0, images_left)
            images_left -= k
            if k == 0 and rng.random() < 0.5:
                messages.append({"role": "user", "content": random_text(rng)})
            else:
                parts = [{"type": "text", "text": random_text(rng)} for _ in range(rng.randint(0, 3))]
                for _ in range(k):
                    parts.insert(rng.randint(0, len(parts)), {"type": "image_url", "image_url": {"url": image_url(rng, cache)}})
                if not parts:
                    parts = [{"type": "text", "text": random_text(rng)}]
                messages.append({"role": "user", "content": parts})
        if rng.random() < 0.1:
            messages.append({"role": "system", "content": random_text(rng) or "Be brief."})
        if not last:
            reply = random_text(rng) or "OK"
            if rng.random() < 0.2:
                reply += "   "
            messages.append({"role": "assistant", "content": reply})
    if rng.random() < 0.05:
        messages.append({"role": "assistant", "content": "Sure, here is"})
    return messages


def main() -> None:
    args = sys.argv[1:]
    count = 240
    if "--count" in args:
        i = args.index("--count")
        count = int(args[i + 1])
        del args[i:i + 2]
    out = pathlib.Path(args[0]) if args else ROOT / ".cache" / "oracle" / "corpus.json"
    tokenizer = MistralTokenizer.from_file(str(TEKKEN), mode=ValidationMode.test)
    rng = random.Random(20240911)
    cache: dict = {}
    corpus = []
    attempts = 0
    while len(corpus) < count:
        attempts += 1
        n_images = rng.choice([0, 0, 1, 1, 2, 3, 4, 5, 6, 8, 10, 12])
        messages = random_request(rng, cache, n_images)
        continue_final = messages[-1]["role"] == "assistant"
        try:
            request = ChatCompletionRequest.from_openai(messages, continue_final_message=continue_final)
            tokens = tokenizer.encode_chat_completion(request).tokens
        except (MistralCommonException, ValueError) as err:  # the reference refuses it: not a counting case
            print(f"skipped request {attempts}: {type(err).__name__}: {str(err)[:120]}", file=sys.stderr)
            continue
        corpus.append({"id": len(corpus), "request": {"model": "pixtral", "messages": messages},
                       "image_count": n_images, "prompt_tokens": len(tokens)})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(corpus, ensure_ascii=False))
    print(f"wrote {len(corpus)} requests to {out}")


if __name__ == "__main__":
    main()
