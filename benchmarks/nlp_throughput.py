"""Throughput of the need classifier against bare jieba.lcut on the same messages.

Run from the repository root:  .venv/bin/python benchmarks/nlp_throughput.py [--messages N]

The dev texts (nlp/data/dev.jsonl) are repeated to at least 100,000 messages. classify(), the
module-level jieba.lcut() (accurate mode, default settings) and the classifier's own cut (accurate
mode with its dictionary and HMM off: the cut classify() makes, though classify() computes only its
word boundaries, without building the words) run over the same messages in alternating rounds, so that other load on the machine affects them alike. Resident memory is read after the classifier has loaded and
before jieba's global dictionary is initialised. The last line is a JSON object with
classify_msgs_per_s, jieba_msgs_per_s, ratio and rss_mb.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import jieba  # noqa: E402

from nlp.classifier import load_classifier  # noqa: E402
from nlp.evaluate import read_examples  # noqa: E402
from nlp.lexicon import DEV_SET_PATH  # noqa: E402

jieba.setLogLevel(logging.WARNING)


def rss_mb() -> float:
    """Resident set size of this process in MB (VmRSS from /proc, else ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_rounds(
    work: Sequence[tuple[str, Callable[[str], object]]], messages: Sequence[str], rounds: int
) -> dict[str, float]:
    """Seconds spent per function, alternating the functions over ``rounds`` slices."""
    spent = {name: 0.0 for name, _ in work}
    size = -(-len(messages) // rounds)
    for start in range(0, len(messages), size):
        chunk = messages[start : start + size]
        for name, function in work:
            began = time.perf_counter()
            for message in chunk:
                function(message)
            spent[name] += time.perf_counter() - began
    return spent


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000, help="at least this many")
    parser.add_argument("--rounds", type=int, default=20, help="alternating slices")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    classifier = load_classifier()
    load_s = time.perf_counter() - began
    memory = rss_mb()

    texts = [example.text for example in read_examples(DEV_SET_PATH)]
    repeats = -(-args.messages // len(texts))
    messages = texts * repeats

    first = time.perf_counter()
    classifier.classify(texts[0])
    first_ms = (time.perf_counter() - first) * 1000

    jieba.initialize()  # the global dictionary, loaded outside the timed loops
    for text in texts:  # warm both paths
        classifier.classify(text)
        jieba.lcut(text)

    own_cut = classifier.tokenizer.lcut

    def same_cut(message: str) -> object:
        return own_cut(message, HMM=False)

    spent = timed_rounds(
        [
            ("classify", classifier.classify),
            ("jieba", jieba.lcut),
            ("tokenizer", same_cut),
        ],
        messages,
        args.rounds,
    )
    n = len(messages)
    classify_rate = n / spent["classify"]
    jieba_rate = n / spent["jieba"]
    tokenizer_rate = n / spent["tokenizer"]
    ratio = classify_rate / jieba_rate

    print(f"messages: {n} ({len(texts)} dev texts x {repeats})")
    print(f"classifier load: {load_s:.2f} s; first classify() after load: {first_ms:.2f} ms")
    print(f"resident memory after load: {memory:.1f} MB")
    print(f"classify():          {classify_rate:10.0f} messages/s")
    print(f"jieba.lcut():        {jieba_rate:10.0f} messages/s")
    print(
        f"classifier's own cut: {tokenizer_rate:9.0f} messages/s "
        "(lcut with the classifier's dictionary, HMM off, as classify() cuts)"
    )
    print(f"ratio classify / jieba.lcut: {ratio:.3f}")
    print(
        f"ratio classify / own cut (the classifier's overhead): {classify_rate / tokenizer_rate:.3f}"
    )
    print(
        json.dumps(
            {
                "classify_msgs_per_s": round(classify_rate, 1),
                "jieba_msgs_per_s": round(jieba_rate, 1),
                "ratio": round(ratio, 3),
                "rss_mb": round(memory, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
