"""Baseline for bench/token-count.ts: mistral-common counting the same request.
Usage: python token-count.py REQUEST.json TEKKEN.json ITERATIONS -> JSON timings in ms on stdout.
'full' is encode_chat_completion (what vLLM runs: decodes and resizes every image); 'count' is
the cheapest count mistral-common allows: lazy PIL header reads, the image token rule and the
Tekken text encoding of the same normalized request."""
import base64
import io
import json
import statistics
import sys
import time

from PIL import Image
from mistral_common.protocol.instruct.chunk import ImageURLChunk, TextChunk
from mistral_common.protocol.instruct.request import ChatCompletionRequest
from mistral_common.protocol.instruct.validator import ValidationMode
from mistral_common.tokens.tokenizers.mistral import MistralTokenizer


def main() -> None:
    request = json.load(open(sys.argv[1]))
    tokenizer = MistralTokenizer.from_file(sys.argv[2], mode=ValidationMode.test)
    iterations = int(sys.argv[3])
    inner = tokenizer.instruct_tokenizer
    encoder = inner.image_encoder

    def full() -> int:
        req = ChatCompletionRequest.from_openai(request["messages"])
        return len(tokenizer.encode_chat_completion(req).tokens)

    class Size:  # _image_to_num_tokens only reads .size; no pixels are allocated
        def __init__(self, size):
            self.size = size

    def count() -> int:
        req = ChatCompletionRequest.from_openai(request["messages"])
        instruct = tokenizer._instruct_request_normalizer.from_chat_completion_request(req)
        encode = lambda text: len(inner.tokenizer.encode(text, bos=False, eos=False))
        last_user = max(i for i, m in enumerate(instruct.messages) if m.role == "user")
        system = instruct.system_prompt if instruct.system_prompt else None
        n = 1
        for i, msg in enumerate(instruct.messages):
            content = msg.content
            if msg.role == "assistant":
                n += encode(content.rstrip(" ")) + 1
                continue
            prompt = system if i == last_user else None
            if isinstance(content, str):
                n += 2 + encode(prompt + "\n\n" + content if prompt else content)
                continue
            n += 2 + (encode(prompt + "\n\n") if prompt else 0)
            for chunk in content:
                if isinstance(chunk, TextChunk):
                    n += encode(chunk.text)
                elif isinstance(chunk, ImageURLChunk):
                    data = base64.b64decode(chunk.get_url().split(",", 1)[1])
                    wt, ht = encoder._image_to_num_tokens(Size(Image.open(io.BytesIO(data)).size))
                    n += ht * (wt + 1)
        return n

    results = {}
    for name, fn in (("full", full), ("count", count)):
        tokens = fn()  # warm-up
        times = []
        for _ in range(iterations):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1000)
        results[name] = {"median_ms": statistics.median(times), "tokens": tokens}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
