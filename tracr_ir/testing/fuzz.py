"""Fuzzing of textual IR: seed texts, mutations of them and random IR-ish garbage.

Whatever text a user gives the parser or `tracr-opt`, the answer must be a diagnostic (a
parse error with its location, a verify error naming the op, a refused program), never an
unhandled Python exception. This module makes the texts that check it:

```python
rng = random.Random(0)
for seed in seed_texts():                         # every stage, custom and generic form
    text = mutate(seed.text, rng)                 # one to three random edits
    ...                                           # parse it / run tracr-opt on it
garbage = random_text(rng)                        # IR-ish tokens in random order
for case in cases(1000):                          # both, reproducibly numbered
    ...
```

A mutation is a function `(text, rng, vocabulary) -> text`; `MUTATIONS` lists them by name
and `@mutation` adds one. They edit the text the way a user (or a buggy pass) could: delete,
duplicate or swap lines and spans, insert characters, replace numbers by extreme ones (`0`,
`-1`, huge, `1e309`, `nan`), swap SSA names and identifiers, change op names, types, dialect
prefixes, value sets, tables, layer indices, residual labels, tensor shapes and hex weights
(seeds include transformer weights in the sparse syntax and in the old `dense<...>` one).
To fuzz your own dialect, pass your seed texts and a `Vocabulary` of its names:
`cases(n, seeds=[Seed("mine", "rasp", text)], vocabulary=Vocabulary.of([MY_DIALECT]))`.
`tracr_ir.testing.fuzz_run` runs cases through the parser and `tracr-opt` and replays one by
its number.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache

from xdsl.ir import Dialect

__all__ = ["MUTATIONS", "SEMANTIC_MUTATIONS", "Case", "Mutation", "Seed", "Vocabulary", "cases",
           "default_vocabulary", "legacy_text", "mutate", "mutation", "random_text",
           "seed_programs", "seed_texts"]


### What mutations draw from.

NUMBERS = ("0", "-1", "1", "2", "3", "7", "-0.0", "0.5", "1.0e-30", "65536", "4294967296",
           "9223372036854775807", "99999999999999999999999999", "1e309", "1.0e309", "-1e309",
           "nan", "inf", "-inf", "0x7FC00000", "0xFF800000", "1.5", "-2.5")
PUNCTUATION = ("{", "}", "(", ")", "[", "]", "<", ">", ",", ":", "=", "->", "%", "!", "#",
               "\"", "^", "@", "-", "*", "?", "...", "//", "\n", " ")
KEYWORDS = ("vocab", "max_seq_len", "bos", "pad", "causal", "true", "false", "none", "inf",
            "categorical", "numerical", "default", "factors", "select", "tolerance",
            "magnitude", "input_error", "fill", "constant", "layer", "not", "python",
            "residual", "head", "EQ", "LT", "LEQ", "GT", "GEQ", "NEQ", "TRUE", "FALSE",
            "token", "position", "w_q", "w_k", "w_v", "w_o", "w_1", "b_1", "w_2", "b_2",
            "attributes", "dense", "sparse", "tensor", "f32", "i64", "one", "bos", "tokens",
            "indices")
TYPES = ("!rasp.selector", "!rasp.sop<categorical>", "!rasp.sop<numerical>",
         "!rasp.sop<categorical, {1, 2}>", "!rasp.sop<numerical, {0, 1.5}>",
         "!rasp.sop<categorical, {none, \"a\", (1, 2)}>", "!craft.space<[]>",
         "!craft.space<[x]>", "!craft.space<[x:1, x:2]>", "!craft.space<[tokens:1]>",
         "!craft.space<[one]>", "tensor<2x2xf32>", "i64", "f32", "none")
ATTRIBUTES = ("#rasp.value<1>", "#rasp.values<{1, 2}>", "#rasp.table<{1 -> 2}>",
              "#rasp.comparison<EQ>", "#craft.directions<[one, x:1]>", "#craft.predicate<EQ>",
              "#craft.predicates<[not LT]>", "#transformer.labels<[one]>",
              "dense<1.0> : tensor<2xf32>", "dense<[1.0, 2.0]> : tensor<2xi64>", "unit",
              "\"str\"", "0 : i64", "true", "[]", "{}", "#transformer.weights<>",
              "#transformer.head<\"h\", #transformer.weights<>>")


@dataclass(frozen=True)
class Vocabulary:
    """The op names, type and attribute texts, keywords and numbers mutations draw from."""

    ops: tuple[str, ...]
    dialects: tuple[str, ...]
    keywords: tuple[str, ...] = KEYWORDS
    types: tuple[str, ...] = TYPES
    attributes: tuple[str, ...] = ATTRIBUTES
    numbers: tuple[str, ...] = NUMBERS
    punctuation: tuple[str, ...] = PUNCTUATION

    @staticmethod
    def of(dialects: Iterable[Dialect], **fields: tuple[str, ...]) -> Vocabulary:
        """The op and dialect names of `dialects` (the other fields default to tracr-ir's)."""
        dialects = list(dialects)
        ops = tuple(op.name for d in dialects for op in d.operations)
        return Vocabulary(ops, tuple(d.name for d in dialects) + ("builtin",), **fields)

    def tokens(self) -> tuple[str, ...]:
        """Everything as one pool of tokens, for random insertions and garbage."""
        return (self.ops + self.keywords + self.types + self.attributes + self.numbers
                + self.punctuation + ("builtin.module", "%tokens", "%indices", "%0", "%x"))


@cache
def default_vocabulary() -> Vocabulary:
    """The vocabulary of tracr-ir's dialects (`rasp`, `craft`, `transformer`)."""
    from tracr_ir.dialects.craft import CRAFT
    from tracr_ir.dialects.rasp import RASP
    from tracr_ir.dialects.transformer import TRANSFORMER

    return Vocabulary.of([RASP, CRAFT, TRANSFORMER])


### Mutations: (text, rng, vocabulary) -> text.

Mutation = Callable[[str, random.Random, Vocabulary], str]
MUTATIONS: dict[str, Mutation] = {}


def mutation(fn: Mutation) -> Mutation:
    """Register `fn` in `MUTATIONS` under its name."""
    MUTATIONS[fn.__name__] = fn
    return fn


def _replace_match(text: str, pattern: str, rng: random.Random,
                   new: Callable[[re.Match[str]], str]) -> str:
    """`text` with one random match of `pattern` replaced by `new(match)` (unchanged if none)."""
    matches = list(re.finditer(pattern, text))
    if not matches:
        return text
    m = rng.choice(matches)
    return text[:m.start()] + new(m) + text[m.end():]


def _lines(text: str) -> list[str]:
    return text.split("\n")


@mutation
def delete_line(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Delete one line."""
    lines = _lines(text)
    del lines[rng.randrange(len(lines))]
    return "\n".join(lines)


@mutation
def duplicate_line(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Copy one line to a random place."""
    lines = _lines(text)
    i = rng.randrange(len(lines))
    lines.insert(rng.randrange(len(lines) + 1), lines[i])
    return "\n".join(lines)


@mutation
def swap_lines(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Swap two lines (in the generic form: a use before its definition)."""
    lines = _lines(text)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


@mutation
def duplicate_op(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Copy an op line under a fresh result name and label: the program gains dead code
    (or, once a later use is swapped to it, a second reader)."""
    lines = _lines(text)
    ops = [i for i, line in enumerate(lines) if re.match(r"\s*%[\w$.-]+ = ", line)]
    if not ops:
        return text
    i = rng.choice(ops)
    copy = re.sub(r"%([\w$.-]+) = ", r"%\1_dup = ", lines[i], count=1)
    labelled = re.sub(r'label = "([^"\\]*)"', r'label = "\1_dup"', copy, count=1)  # generic
    copy = labelled if labelled != copy else re.sub(r'"([^"\\]*)"', r'"\1_dup"', copy, count=1)
    lines.insert(i + 1, copy)
    return "\n".join(lines)


@mutation
def truncate(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Cut the text anywhere."""
    return text[:rng.randrange(len(text) + 1)]


def _span(text: str, rng: random.Random) -> tuple[int, int]:
    start = rng.randrange(len(text) + 1)
    return start, min(len(text), start + rng.choice((1, 2, 3, 5, 10, 30, 100)))


@mutation
def delete_span(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Delete a few to a hundred characters."""
    start, end = _span(text, rng)
    return text[:start] + text[end:]


@mutation
def copy_span(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Copy a few to a hundred characters to a random place."""
    start, end = _span(text, rng)
    at = rng.randrange(len(text) + 1)
    return text[:at] + text[start:end] + text[at:]


@mutation
def insert_characters(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Insert punctuation, digits, letters or control characters."""
    alphabet = "{}()[]<>,:=%!#\"^@-+*?._$ \n\t\\0123456789abcxyzEQ\x00\x7f\u00e9\u2028"
    at = rng.randrange(len(text) + 1)
    return text[:at] + "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))) + text[at:]


@mutation
def insert_token(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Insert an IR token (op name, keyword, type, attribute, number) between tokens."""
    at = _token_boundary(text, rng)
    return f"{text[:at]} {rng.choice(vocab.tokens())} {text[at:]}"


def _token_boundary(text: str, rng: random.Random) -> int:
    bounds = [m.start() for m in re.finditer(r"[\s,()\[\]{}<>]", text)]
    return rng.choice(bounds) if bounds else 0


@mutation
def replace_number(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Replace a number by an extreme one (0, -1, huge, 1e309, nan, inf, ...)."""
    return _replace_match(text, r"(?<![\w%#.])-?\d+(\.\d+)?(e[-+]?\d+)?(?![\w])", rng,
                          lambda m: rng.choice(vocab.numbers))


@mutation
def nudge_number(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """An integer off by one: sizes, layers and indices just out of range."""
    return _replace_match(text, r"(?<![\w%#.\"])\d+(?![\w.])", rng,
                          lambda m: str(int(m.group()) + rng.choice((-1, 1))))


@mutation
def swap_ssa_names(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Replace an SSA name by another one of the text (or an undefined one)."""
    names = sorted(set(re.findall(r"%[\w$.-]+", text))) or ["%0"]
    return _replace_match(text, r"%[\w$.-]+", rng, lambda m: rng.choice(names + ["%nope"]))


@mutation
def swap_identifiers(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Replace a bare identifier by another one of the text."""
    words = sorted(set(re.findall(r"\b[A-Za-z_]\w*\b", text))) or ["x"]
    return _replace_match(text, r"\b[A-Za-z_]\w*\b", rng, lambda m: rng.choice(words))


@mutation
def change_op_name(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Replace an op name by another op of the dialects."""
    pattern = "|".join(re.escape(name) for name in sorted(vocab.ops, key=len, reverse=True))
    return _replace_match(text, rf"\b({pattern})\b", rng, lambda m: rng.choice(vocab.ops))


@mutation
def change_dialect_prefix(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Replace a `dialect.` prefix by another dialect's (or an unknown one)."""
    pattern = "|".join(map(re.escape, vocab.dialects))
    return _replace_match(text, rf"\b({pattern})\.", rng,
                          lambda m: rng.choice(vocab.dialects + ("nope",)) + ".")


_SWAPS = (("categorical", "numerical"), ("true", "false"), ("EQ", "LT"), ("LEQ", "TRUE"),
          ("GT", "FALSE"), ("not ", ""), ("none", "0"), ("head", "hed"), ("f32", "i64"),
          ("!rasp.selector", "!rasp.sop<categorical>"), ("tensor<", "vector<"),
          ("layer", "layer -"), ("default", "default (1, 2)"), ("->", "=>"), ("{", "{{"))


@mutation
def swap_keyword(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Swap a keyword for its counterpart: categorical/numerical, true/false, EQ/LT..."""
    pairs = [(a, b) for x, y in _SWAPS for a, b in ((x, y), (y, x)) if a and a in text]
    if not pairs:
        return text
    a, b = rng.choice(pairs)
    return _replace_match(text, re.escape(a), rng, lambda m: b)


@mutation
def change_type(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Replace a type (`!rasp.sop<...>`, `!craft.space<...>`, `tensor<...>`)."""
    return _replace_match(text, r"(![\w.]+|\btensor)(?:<(?:[^<>\n]|<[^<>\n]*>)*>)?", rng,
                          lambda m: rng.choice(vocab.types))


@mutation
def change_attribute(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Replace an attribute value (`= ...` up to `,` or `}`, or a `#dialect.attr<...>`)."""
    return _replace_match(text, r"(?<== )[^,}\n]+|#\w+\.\w+<[^>\n]*>", rng,
                          lambda m: rng.choice(vocab.attributes))


@mutation
def remove_attribute(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Drop one `name = value` entry (a property or attribute of the generic form)."""
    return _replace_match(text, r"\"?\w+\"? = [^,}\n]+(, )?", rng, lambda m: "")


@mutation
def edit_collection(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Drop, duplicate or replace one item of a `{...}`, `[...]` or `(...)` list: value sets,
    tables, residual labels, directions, selector terms, factors."""
    def edit(m: re.Match[str]) -> str:
        items = m.group(2).split(", ")
        i = rng.randrange(len(items))
        choice = rng.randrange(4)
        if choice == 0:
            del items[i]
        elif choice == 1:
            items.insert(rng.randrange(len(items) + 1), items[i])
        elif choice == 2:
            items[i] = rng.choice(vocab.numbers + vocab.keywords + ('"a"', "(1, 2)", "x:1"))
        else:
            rng.shuffle(items)
        return m.group(1) + ", ".join(items) + m.group(3)

    return _replace_match(text, r"([{\[(])([^{}\[\]()\n]+)([}\])])", rng, edit)


@mutation
def edit_table_entry(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Replace the result of a table entry `arg -> result`."""
    return _replace_match(text, r"(?<=-> )[^,}\n]+", rng,
                          lambda m: rng.choice(vocab.numbers + ("none", "true", '"z"', "(1, 2)")))


@mutation
def change_shape(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Change, add or drop a dimension of a `tensor<...>` type."""
    def edit(m: re.Match[str]) -> str:
        dims = m.group(1).split("x")[:-1]
        if dims and rng.random() < 0.7:
            dims[rng.randrange(len(dims))] = rng.choice(("0", "1", "2", "3", "?", "100000"))
        elif rng.random() < 0.5:
            dims.insert(0, "1")
        elif dims:
            dims.pop()
        return "tensor<" + "".join(f"{d}x" for d in dims) + m.group(1).split("x")[-1] + ">"

    return _replace_match(text, r"tensor<([\dx?]*\w+)>", rng, edit)


@mutation
def edit_hex(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Flip, drop or add hex digits of a hex literal (weights above 100 elements)."""
    def edit(m: re.Match[str]) -> str:
        digits = list(m.group(1))
        i = rng.randrange(len(digits))
        choice = rng.randrange(3)
        if choice == 0:
            digits[i] = rng.choice("0123456789ABCDEFG")
        elif choice == 1:
            del digits[i:i + rng.choice((1, 2, 8))]
        else:
            digits[i:i] = rng.choice(("0", "00", "7FC00000", "0000807F"))
        return "0x" + "".join(digits)

    return _replace_match(text, r"0x([0-9A-Fa-f]+)", rng, edit)


@mutation
def change_string(text: str, rng: random.Random, vocab: Vocabulary) -> str:
    """Replace a string literal: labels, bos/pad tokens, string values."""
    strings = sorted(set(re.findall(r'"(?:[^"\\\n]|\\.)*"', text))) or ['""']
    extra = ['""', '"\\FF"', '"\\"', '"one"', '"bos"', '"BOS"', '"PAD"', '"x:1"', '"\\0A"']
    return _replace_match(text, r'"(?:[^"\\\n]|\\.)*"', rng,
                          lambda m: rng.choice(strings + extra))


# Mutations that edit a value, a name or a keyword in place: the text mostly still parses.
SEMANTIC_MUTATIONS = ("duplicate_op", "replace_number", "nudge_number", "swap_ssa_names",
                      "swap_keyword", "edit_collection", "edit_table_entry", "change_string",
                      "change_op_name", "change_type", "edit_hex", "change_shape")


def mutate(text: str, rng: random.Random, vocabulary: Vocabulary | None = None,
           count: int | None = None,
           mutations: Sequence[Mutation] | None = None) -> str:
    """`text` after `count` (default: one to three) random mutations from `mutations`
    (default: all of `MUTATIONS`), drawing names and keywords from `vocabulary`."""
    vocab = vocabulary or default_vocabulary()
    pool = list(mutations or MUTATIONS.values())
    for _ in range(count if count is not None else rng.choice((1, 1, 1, 2, 3))):
        for _attempt in range(5):  # a mutation finding nothing to edit leaves the text as is
            mutated = rng.choice(pool)(text, rng, vocab)
            if mutated != text or not text:
                break
        text = mutated
    return text


def random_text(rng: random.Random, vocabulary: Vocabulary | None = None,
                n_tokens: int | None = None) -> str:
    """Garbage made of IR-ish tokens, sometimes wrapped in `builtin.module { ... }`."""
    tokens = (vocabulary or default_vocabulary()).tokens()
    n = n_tokens if n_tokens is not None else rng.randint(0, 40)
    body = " ".join(rng.choice(tokens) for _ in range(n))
    return f"builtin.module {{\n{body}\n}}" if rng.random() < 0.5 else body


### Seeds.


@dataclass(frozen=True)
class Seed:
    """A well-formed text to mutate: `stage` is `rasp`, `craft` or `transformer`."""

    name: str
    stage: str
    text: str = field(repr=False)


def seed_programs() -> list[tuple[str, object, tuple, bool]]:
    """Small programs covering the ops of every stage: (name, program, vocab, causal)."""
    from tracr_ir import lib, rasp

    tokens, indices = rasp.tokens, rasp.indices
    shifted = rasp.numerical(rasp.Map(lambda f: f - 0.5, lib.make_frac_prevs(tokens == 1)))
    numeric = rasp.Map(lambda f: f > 0, shifted)
    paired = rasp.SequenceMap(lambda a, b: (a, b), tokens, indices)
    pick = rasp.Aggregate(rasp.Select(indices, indices, lambda k, q: k == q)
                          & rasp.Select(tokens, tokens, rasp.Comparison.GEQ), tokens)
    either = rasp.SelectorWidth(rasp.Select(tokens, tokens, rasp.Comparison.LT)
                                | ~rasp.Select(indices, indices, rasp.Comparison.NEQ))
    return [
        ("length", lib.make_length(), (1, 2, 3), False),
        ("hist", lib.make_hist(), ("a", "b"), False),
        ("sort_unique", lib.make_sort_unique(tokens, tokens), (1, 2, 3), False),
        ("frac_prevs", lib.make_frac_prevs(tokens == 1), (1, 2), True),
        ("pair_balance", lib.make_pair_balance(tokens, "(", ")"), ("(", ")"), False),
        ("numerical_map", numeric, (1, 2), False),
        ("pairs", rasp.SequenceMap(lambda p, f: str(p) + str(f), paired,
                                   rasp.Full(7)), (1, 2), False),
        ("selectors", rasp.SequenceMap(lambda a, b: a, pick, either), (1, 2), False),
    ]


def _number_nodes(program: object) -> None:
    """Fix the ids in the labels (`map_3`) of the program's new nodes by their order, so that
    seed texts, and so the cases, do not depend on how many nodes the process labelled
    before (ids come from a global counter on first use)."""
    from tracr_ir import rasp

    for k, expr in enumerate(rasp.walk(program), 1):  # type: ignore[arg-type]
        if "unique_id" not in vars(expr):
            vars(expr)["unique_id"] = k


def legacy_text(module: object) -> str:
    """A module holding a `transformer.model` printed as versions before sparse weights
    printed it: every weight `dense<...>` (hex bytes above 100 elements)."""
    from tracr_ir.compiler import print_module
    from tracr_ir.dialects import transformer as tf
    from tracr_ir.dialects.transformer_weights import format_dense

    def weights(op: object) -> list:
        if isinstance(op, tf.AttentionOp):
            return [h.weights for h in op.heads]
        w = getattr(op, "weights", None)
        return [w] if isinstance(w, tf.WeightsAttr) else []

    tensors = iter([t for op in module.walk() for w in weights(op)  # type: ignore[attr-defined]
                    for _, t in w.items()])
    lines, out = iter(print_module(module).split("\n")), []  # type: ignore[arg-type]
    for line in lines:
        m = re.match(r"(\s*)(\w+) = (sparse |dense<|#transformer\.sparse<)", line)
        if m is None:
            out.append(line)
            continue
        if line.endswith("{"):  # rows follow, up to the brace closing them
            while next(lines) != m.group(1) + "}":
                pass
        dense = format_dense(tf.dense(tf.to_numpy(next(tensors))))
        out.append(f"{m.group(1)}{m.group(2)} = {dense}")
    return "\n".join(out)


@cache
def seed_texts(max_seq_len: int = 3, generic: bool = True) -> tuple[Seed, ...]:
    """The printed module of each `seed_programs()` program at each stage (`rasp` after
    `rasp-infer-values`, `craft` with layers and layout, `transformer`), in the custom form
    and, if `generic`, the generic form too; transformer modules also with their weights as
    older versions printed them (`legacy_text`)."""
    from tracr_ir.compiler import STAGE_PIPELINES, print_module, run_pipeline, to_ir

    seeds = []
    for name, program, vocab, causal in seed_programs():
        _number_nodes(program)  # type: ignore[arg-type]
        for stage, pipeline in STAGE_PIPELINES.items():
            module = to_ir(program, vocab, max_seq_len, causal=causal)  # type: ignore[arg-type]
            run_pipeline(module, pipeline)
            for form in (False, True) if generic else (False,):
                suffix = "/generic" if form else ""
                seeds.append(Seed(f"{name}/{stage}{suffix}", stage, print_module(module, form)))
            if stage == "transformer":  # weights as older versions printed them
                seeds.append(Seed(f"{name}/{stage}/legacy", stage, legacy_text(module)))
    return tuple(seeds)


### Cases.


@dataclass(frozen=True)
class Case:
    """One fuzz input: case `index` of a run, mutated from `seed` (`random` for garbage)."""

    index: int
    seed: Seed
    text: str = field(repr=False)


_GARBAGE = Seed("random", "rasp", "")


def cases(n: int, start: int = 0, salt: str = "tracr-ir", seeds: Sequence[Seed] | None = None,
          vocabulary: Vocabulary | None = None, garbage: float = 0.05,
          semantic: float = 0.5) -> Iterator[Case]:
    """Cases `start` to `start + n - 1`: a fraction `garbage` of random texts, a fraction
    `semantic` of seeds edited by `SEMANTIC_MUTATIONS` only (which mostly still parse, so
    they reach the verifiers and the passes), the rest by any mutation. Case i depends only
    on (`salt`, i), so any case can be replayed alone."""
    seeds = seeds if seeds is not None else seed_texts()
    semantic_pool = [MUTATIONS[name] for name in SEMANTIC_MUTATIONS]
    for index in range(start, start + n):
        rng = random.Random(f"{salt}-{index}")
        if rng.random() < garbage:
            yield Case(index, _GARBAGE, random_text(rng, vocabulary))
            continue
        seed = rng.choice(seeds)
        pool = semantic_pool if rng.random() < semantic else None
        yield Case(index, seed, mutate(seed.text, rng, vocabulary, mutations=pool))
