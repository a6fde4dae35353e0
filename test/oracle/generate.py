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


ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
PROPERTY_TYPES = ["string", "integer", "number", "boolean"]


def random_id(rng: random.Random) -> str:
    # OpenAI's "call_" ids are longer than Mistral's 9 characters; vLLM keeps the last 9.
    if rng.random() < 0.5:
        return "".join(rng.choice(ALNUM) for _ in range(9))
    return "call_" + "".join(rng.choice(ALNUM) for _ in range(24))


def random_tool(rng: random.Random, name: str) -> dict:
    properties = {}
    for k in range(rng.randint(0, 4)):
        prop = {"type": rng.choice(PROPERTY_TYPES)}
        if rng.random() < 0.5:
            prop["description"] = random_text(rng)[:200]
        if prop["type"] == "number" and rng.random() < 0.5:
            prop["minimum"] = rng.choice([0.5, -2.25, 1e-7, 123.456])  # floats JSON keeps as floats
        if prop["type"] == "string" and rng.random() < 0.3:
            prop["enum"] = ["celsius", "fahrenheit", "kelvin"][: rng.randint(1, 3)]
        properties[rng.choice(["city", "unit", "day", "query", "n", "zone", "lieu"]) + str(k)] = prop
    function = {"name": name}
    if rng.random() < 0.8:
        function["description"] = random_text(rng)[:300]
    if rng.random() < 0.9:
        function["parameters"] = {"type": "object", "properties": properties,
                                  "required": list(properties)[: rng.randint(0, len(properties))]}
    return {"type": "function", "function": function}


def random_arguments(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.1:
        return ""
    if kind < 0.15:
        return "not json at all, " + random_text(rng)[:50]
    value = {"city": random_text(rng)[:40], "n": rng.randint(-5, 10**20), "x": rng.choice([1.0, 0.1, 2.5e-8, 1e16, -0.0]),
             "nested": {"2": [True, None, "é"], "1": "order kept"}}
    separators = rng.choice([(",", ":"), (", ", ": "), (" , ", " : ")])
    return json.dumps(value, ensure_ascii=rng.random() < 0.5, separators=separators, indent=rng.choice([None, 2]))


def random_tool_result(rng: random.Random):
    kind = rng.random()
    if kind < 0.3:
        return random_text(rng)[:500]
    if kind < 0.5:
        return json.dumps({"temperature": rng.choice([21, 21.5, 1e-5]), "unit": "celsius", "note": random_text(rng)[:80]},
                          ensure_ascii=rng.random() < 0.5)
    if kind < 0.6:
        return rng.choice(["42", "3.0", "true", "null", "[1, 2,3]", "\"quoted\"", "", "NaN"])
    return [{"type": "text", "text": random_text(rng)[:200]} for _ in range(rng.randint(1, 3))]


def random_tool_request(rng: random.Random, cache: dict) -> tuple[list, list]:
    """A conversation that defines tools, calls them and answers with their results."""
    names = [f"tool_{i}" if rng.random() < 0.5 else f"get-weather-{i}" for i in range(rng.randint(1, 3))]
    tools = [random_tool(rng, name) for name in names]
    messages = []
    if rng.random() < 0.5:
        messages.append({"role": "system", "content": random_text(rng) or "You can call tools."})
    for turn in range(rng.randint(1, 3)):
        if rng.random() < 0.2:
            messages.append({"role": "user", "content": [{"type": "text", "text": random_text(rng) or "Look."},
                                                         {"type": "image_url", "image_url": {"url": image_url(rng, cache)}}]})
        else:
            messages.append({"role": "user", "content": random_text(rng) or "What is the weather?"})
        calls = [{"id": random_id(rng), "type": "function",
                  "function": {"name": rng.choice(names), "arguments": random_arguments(rng)}}
                 for _ in range(rng.randint(1, 3))]
        messages.append({"role": "assistant", "content": None if rng.random() < 0.5 else "", "tool_calls": calls})
        for call in calls:
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": random_tool_result(rng)})
        if rng.random() < 0.6:
            messages.append({"role": "assistant", "content": random_text(rng) or "Done."})
    if messages[-1]["role"] == "assistant" and rng.random() < 0.7:
        messages.append({"role": "user", "content": random_text(rng) or "Thanks!"})
    return messages, tools


def vllm_truncated_ids(messages: list) -> list:
    """What vLLM's `truncate_tool_call_ids` hands mistral-common: ids cut to their last 9 characters."""
    out = json.loads(json.dumps(messages))
    for m in out:
        for call in m.get("tool_calls") or []:
            call["id"] = call["id"][-9:]
        if "tool_call_id" in m:
            m["tool_call_id"] = m["tool_call_id"][-9:]
    return out


def main() -> None:
    args = sys.argv[1:]
    count = 240
    tool_count = 80
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
    # Tool conversations, from their own seed so the cases above stay what they were.
    tool_rng = random.Random(20240912)
    tool_cases = 0
    while tool_cases < tool_count:
        messages, tools = random_tool_request(tool_rng, cache)
        continue_final = messages[-1]["role"] == "assistant"
        try:
            request = ChatCompletionRequest.from_openai(vllm_truncated_ids(messages), tools=tools,
                                                        continue_final_message=continue_final)
            tokens = tokenizer.encode_chat_completion(request).tokens
        except (MistralCommonException, ValueError) as err:
            print(f"skipped tool request: {type(err).__name__}: {str(err)[:120]}", file=sys.stderr)
            continue
        image_count = sum(1 for m in messages if isinstance(m["content"], list)
                          for p in m["content"] if p["type"] == "image_url")
        corpus.append({"id": len(corpus), "request": {"model": "pixtral", "messages": messages, "tools": tools},
                       "image_count": image_count, "prompt_tokens": len(tokens)})
        tool_cases += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(corpus, ensure_ascii=False))
    print(f"wrote {len(corpus)} requests ({tool_count} with tools) to {out}")


if __name__ == "__main__":
    main()
