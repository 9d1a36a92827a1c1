"""Craft blocks on their own: each construction swept over its whole value set at
max_seq_len 64, in float32, checking (a) the decoded output against the construct's semantics
(`rasp.evaluate` where a RASP program says it directly) and (b) the numerical margin of every
pre-decoding quantity against the bound its docstring states, so that a shrinking margin
shows before a wrong answer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tracr_ir import rasp
from tracr_ir.craft import attention, mlp, numerics
from tracr_ir.craft.bases import (
    BOS,
    ONE,
    Direction,
    Space,
    decode_categorical,
    decode_numerical,
    encode,
    join,
)
from tracr_ir.craft.blocks import (
    apply_block,
    attention_forward,
    block_update,
    mlp_forward,
    ramp_margins,
)
from tracr_ir.craft.selector_width import selector_width, share_direction
from tracr_ir.errors import UnsupportedProgramError

L = 64
VOCAB = ["a", "b", "c", "d", "e"]
F32_SLACK = 1e-2  # float32 slack on margins in ramp units (a = lambda x + c, |c| up to ~2e4)


def residual(*spaces) -> Space:
    return join(*spaces, [ONE, BOS])


def check_ramps(block, pre, lower: float, positions=slice(1, None)) -> float:
    """Asserts every ramp margin (off BOS) is >= lower; returns the smallest."""
    margins = ramp_margins(block, pre)[..., positions, :]
    if margins.size == 0:
        return math.inf
    smallest = float(margins.min())
    assert smallest >= lower - F32_SLACK, f"ramp margin {smallest} < {lower}"
    return smallest


def check_bos_clean(block, space, x):
    update = block_update(block, space, x)
    assert np.all(update[..., 0, :] == 0), "a block wrote at the BOS position"


# ---------------------------------------------------------------- categorical MLPs


def lookup_table(i):
    if i % 7 == 0:
        return None
    return ("even", i % 4) if i % 2 == 0 else i % 5


@pytest.mark.parametrize("noise", [0.0, 0.2])
def test_categorical_lookup_all_values(noise):
    in_space = Space.categorical("indices", range(L))
    table = {i: lookup_table(i) for i in range(L)}
    out_space = Space.categorical("out", [v for v in table.values()])
    block = mlp.map_categorical_mlp(in_space, out_space, table, label="lookup")
    space = residual(in_space, out_space, block.in_space)
    xs = list(range(L)) + [None]
    x = encode(space, {"indices": xs})
    if noise:
        # Adversarial l1 noise: take noise/2 off the hot coordinate and put noise/2 on a
        # value with a different output.
        for p, v in enumerate(xs, start=1):
            other = next(u for u in range(L) if table[u] != (table[v] if v is not None else None)
                         and table[u] is not None)
            if v is not None:
                x[p, space.index(Direction("indices", v))] -= noise / 2
            x[p, space.index(Direction("indices", other))] += noise / 2
    pre, update = mlp_forward(block, space, x)
    got = decode_categorical(space, "out", x + update)
    assert got == [None] + [table[v] if v is not None else None for v in xs]
    out = update[1:][:, space.indices(out_space)]
    hot = np.array([table[v] is not None if v is not None else False for v in xs])
    # Snapped: the output is an exact one-hot, not merely decodable.
    assert np.allclose(out.sum(axis=1), hot, atol=1e-6) and np.allclose(out.max(axis=1), hot)
    check_ramps(block, pre, 0.5 - 2 * noise)
    check_bos_clean(block, space, x)
    assert block.hidden_size == 2 * len({v for v in table.values() if v is not None})


def test_categorical_lookup_mixed_values_and_evaluate():
    tokens = ["a", 1, 2.5, True, ("t", 0), "z"]
    f = lambda t: None if t == "z" else (str(t) if not isinstance(t, tuple) else t[1])
    in_space = Space.categorical("tokens", tokens)
    table = {t: f(t) for t in in_space.values("tokens")}
    out_space = Space.categorical("out", table.values())
    block = mlp.map_categorical_mlp(in_space, out_space, table)
    space = residual(in_space, out_space)
    seq = [t for t in in_space.values("tokens")] * 2
    y = apply_block(block, space, encode(space, {"tokens": seq}))
    assert decode_categorical(space, "out", y)[1:] == rasp.evaluate(rasp.Map(f, rasp.tokens),
                                                                    seq)


@pytest.mark.parametrize("numerical_output", [False, True])
def test_categorical_lookup_none_entry(numerical_output):
    """A `None` key maps the zero vector to a value (an Aggregate's non-None default), with
    the same margin, noise included; BOS stays clean."""
    in_space = Space.categorical("agg", VOCAB)
    table = {"a": 1, "b": 2, "c": -1, "d": 1, "e": 0, None: 2}
    if numerical_output:
        out_space = Space.numerical("y")
        block = mlp.map_categorical_to_numerical_mlp(in_space, out_space, table)
    else:
        out_space = Space.categorical("y", table.values())
        block = mlp.map_categorical_mlp(in_space, out_space, table)
    space = residual(in_space, out_space)
    seq = VOCAB + [None]
    for noise in (0.0, 0.2):
        x = encode(space, {"agg": seq})
        for p, v in enumerate(seq, start=1):  # move noise/2 of l1 mass onto "c"
            if v is not None:
                x[p, space.index(Direction("agg", v))] -= noise / 2
            x[p, space.index(Direction("agg", "c"))] += noise / 2
        pre, update = mlp_forward(block, space, x)
        want = [table[v] for v in seq]
        if numerical_output:
            got = decode_numerical(space, "y", x + update)[1:]
            assert np.allclose(got, want, atol=1e-5)
        else:
            assert decode_categorical(space, "y", x + update)[1:] == want
        check_ramps(block, pre, 0.5 - 2 * noise)
        check_bos_clean(block, space, x)


def test_categorical_to_numerical_negative_outputs():
    in_space = Space.categorical("tokens", VOCAB)
    table = {"a": -2.5, "b": 0, "c": 3, "d": 1000.0, "e": -0.001}
    out = Direction("num")
    block = mlp.map_categorical_to_numerical_mlp(in_space, Space.of(out), table)
    space = residual(in_space, [out])
    seq = VOCAB + [None]
    x = encode(space, {"tokens": seq})
    pre, update = mlp_forward(block, space, x)
    got = decode_numerical(space, "num", x + update)
    want = [0.0] + [table[t] if t is not None else 0.0 for t in seq]
    assert np.allclose(got, want, rtol=1e-6, atol=1e-6)
    check_ramps(block, pre, 0.5)
    check_bos_clean(block, space, x)
    with pytest.raises(UnsupportedProgramError):
        mlp.map_categorical_to_numerical_mlp(in_space, Space.of(out), {**table, "e": None})


# ---------------------------------------------------------------- discretising MLPs


def perturbed(xs, delta):
    xs = np.asarray(xs, dtype=np.float64)
    return np.concatenate([xs, xs - delta, xs + delta])


def numerical_residual(in_dir, out_space, values):
    space = residual([in_dir], out_space)
    x = np.zeros((len(values) + 1, len(space)))
    x[:, space.index(ONE)] = 1
    x[0, space.index(BOS)] = 1
    x[1:, space.index(in_dir)] = values
    return space, x


def test_numerical_map_negative_outputs():
    """Arbitrary, negative outputs (tracr issue #24 miscompiles these)."""
    xs = [-3.0, -1.5, 0.0, 0.25, 2.0, 7.0, 7.125]
    f = lambda x: x * x - 5
    table = {x: f(x) for x in xs}
    delta = numerics.min_gap(xs) / 8
    inp, out = Direction("x"), Direction("y")
    block = mlp.map_numerical_mlp(inp, out, table, input_error=delta)
    values = perturbed(xs, delta * 0.999)
    space, x = numerical_residual(inp, Space.of(out), values)
    pre, update = mlp_forward(block, space, x)
    got = decode_numerical(space, "y", x + update)[1:]
    want = [f(v) for v in xs] * 3
    assert np.allclose(got, want, atol=1e-4)
    check_ramps(block, pre, 1.5)
    check_bos_clean(block, space, x)


def test_numerical_map_every_mean_at_L64():
    """A non-affine map with negative outputs over every mean k/n, n <= 64, with the input
    error an attention head leaves (an eighth of the gap): decisions exact with margin 3/2,
    the output within the block's float32 estimate."""
    xs = numerics.fractions(L)
    gap = numerics.min_gap(xs)
    assert gap == pytest.approx(1 / (L * (L - 1)))
    delta = gap / 8
    f = lambda x: (x - 0.5) ** 2 - 0.1
    table = {x: f(x) for x in xs}
    assert mlp.as_affine(table) is None
    inp, out = Direction("mean"), Direction("y")
    block = mlp.map_numerical_mlp(inp, out, table, input_error=delta)
    values = perturbed(xs, delta)
    space, x = numerical_residual(inp, Space.of(out), values)
    pre, update = mlp_forward(block, space, x)
    got = decode_numerical(space, "y", x + update)[1:]
    err = np.abs(got - np.array([f(v) for v in xs] * 3)).max()
    assert err <= block.float32_error <= 1e-3
    check_ramps(block, pre, 1.5)
    check_bos_clean(block, space, x)


def test_centred_mean_is_affine_and_exact():
    """x -> x - 1/2 (tracr issue #24's centred mean) is affine: `linear_mlp`, exact."""
    xs = numerics.fractions(L)
    table = {x: x - 0.5 for x in xs}
    alpha, beta = mlp.as_affine(table)
    inp, out = Direction("mean"), Direction("centred")
    block = mlp.linear_mlp({inp: alpha}, out, beta)
    space, x = numerical_residual(inp, Space.of(out), xs)
    got = decode_numerical(space, "centred", apply_block(block, space, x))
    assert got[0] == 0 and np.abs(got[1:] - (np.array(xs) - 0.5)).max() < 1e-6
    assert block.hidden_size == 3


def test_numerical_to_categorical_at_L64():
    xs = numerics.fractions(L)
    bucket = lambda x: None if x == 0.5 else ("lo" if x < 0.25 else "mid" if x < 0.75 else 3)
    table = {x: bucket(x) for x in xs}
    delta = numerics.min_gap(xs) / 8
    inp = Direction("mean")
    out_space = Space.categorical("bucket", table.values())
    block = mlp.map_numerical_to_categorical_mlp(inp, out_space, table, input_error=delta)
    values = perturbed(xs, delta)
    space, x = numerical_residual(inp, out_space, values)
    pre, update = mlp_forward(block, space, x)
    assert decode_categorical(space, "bucket", x + update)[1:] == [bucket(v) for v in xs] * 3
    check_ramps(block, pre, 1.5)
    check_bos_clean(block, space, x)
    # Only the output changes need steps: 3 changes of value (and None) here.
    assert len(block.ramps) == 4


def test_discretising_refuses_indistinguishable_inputs():
    with pytest.raises(UnsupportedProgramError):
        mlp.map_numerical_mlp(Direction("x"), Direction("y"), {0.0: 1.0, 0.1: 2.0},
                              input_error=0.05)
    exact = mlp.map_numerical_mlp(Direction("x"), Direction("y"), {0.0: 1.0, 0.1: 2.0},
                                  input_error=0.0)
    assert exact.float32_error < 1e-5


# ---------------------------------------------------------------- sequence maps


@pytest.mark.parametrize("noise", [0.0, 0.2])
def test_sequence_map_all_pairs(noise):
    f = lambda t, i: None if i % 5 == 0 else (t, i % 4)
    t_space, i_space = Space.categorical("tokens", VOCAB), Space.categorical("indices", range(L))
    table = {(t, i): f(t, i) for t in VOCAB for i in range(L)}
    out_space = Space.categorical("pair", table.values())
    block = mlp.sequence_map_mlp(t_space, i_space, out_space, table)
    space = residual(t_space, i_space, out_space)
    ts = [t for t in VOCAB for _ in range(L)] + [None, "a"]
    idx = list(range(L)) * len(VOCAB) + [3, None]
    x = encode(space, {"tokens": ts, "indices": idx})
    if noise:
        # e1 + e2 = noise: each operand loses noise/4 on its hot coordinate and gains noise/4
        # on a neighbour.
        for p, (t, i) in enumerate(zip(ts, idx), start=1):
            if t is not None:
                x[p, space.index(Direction("tokens", t))] -= noise / 4
            x[p, space.index(Direction("tokens", VOCAB[(VOCAB.index(t) + 1) % 5]
                                       if t is not None else "a"))] += noise / 4
            if i is not None:
                x[p, space.index(Direction("indices", i))] -= noise / 4
            x[p, space.index(Direction("indices", ((i or 0) + 1) % L))] += noise / 4
    pre, update = mlp_forward(block, space, x)
    got = decode_categorical(space, "pair", x + update)[1:]
    seq_map = rasp.SequenceMap(f, rasp.tokens, rasp.Map(lambda v: v, rasp.indices))
    assert got == [f(t, i) if t is not None and i is not None else None
                   for t, i in zip(ts, idx)]
    assert got[:L * len(VOCAB)] == [
        v for t in VOCAB for v in rasp.evaluate(seq_map, [t] * L)]
    check_ramps(block, pre, 0.5 - 2 * noise)
    check_bos_clean(block, space, x)


def test_sequence_map_numerical_output():
    f = lambda t, i: (VOCAB.index(t) - i) / 2
    t_space, i_space = Space.categorical("tokens", VOCAB), Space.categorical("indices", range(L))
    table = {(t, i): f(t, i) for t in VOCAB for i in range(L)}
    out = Direction("diff")
    block = mlp.sequence_map_mlp(t_space, i_space, Space.of(out), table, numerical_output=True)
    space = residual(t_space, i_space, [out])
    ts = [t for t in VOCAB for _ in range(L)]
    idx = list(range(L)) * len(VOCAB)
    x = encode(space, {"tokens": ts, "indices": idx})
    pre, update = mlp_forward(block, space, x)
    got = decode_numerical(space, "diff", x + update)[1:]
    assert np.allclose(got, [f(t, i) for t, i in zip(ts, idx)], atol=1e-4)
    check_ramps(block, pre, 0.5)


def test_linear_sequence_map_exact():
    xs = [-3.5, -1, 0, 0.5, 2, 63]
    ys = [-2, 0, 0.25, 7]
    a, b = Direction("a"), Direction("b")
    out = Direction("out")
    block = mlp.linear_sequence_map_mlp(a, b, out, 1.5, -2.0)
    same = mlp.linear_sequence_map_mlp(a, a, out, 1.5, -2.0)
    space = residual([a, b, out])
    pairs = [(u, v) for u in xs for v in ys]
    x = encode(space, {"a": [u for u, _ in pairs], "b": [v for _, v in pairs]},
               numerical=["a", "b"])
    got = decode_numerical(space, "out", apply_block(block, space, x))[1:]
    assert np.allclose(got, [1.5 * u - 2 * v for u, v in pairs], atol=1e-5)
    got_same = decode_numerical(space, "out", apply_block(same, space, x))[1:]
    assert np.allclose(got_same, [-0.5 * u for u, _ in pairs], atol=1e-5)
    assert block.hidden_size == 2
    check_bos_clean(block, space, x)


def test_constant_mlps():
    cat = Space.categorical("full", ["z", "y"])
    num = Direction("fill")
    b1 = mlp.constant_mlp(cat, "z")
    b2 = mlp.constant_mlp(Space.of(num), -1.5, numerical_output=True)
    space = residual(cat, [num])
    x = encode(space, {"full": [None] * 5})
    y = apply_block(b2, space, apply_block(b1, space, x))
    assert decode_categorical(space, "full", y) == [None] + ["z"] * 5
    assert np.all(decode_numerical(space, "fill", y) == [0] + [-1.5] * 5)


# ---------------------------------------------------------------- attention


def sop_columns(seq, **sops):
    return {name: rasp.evaluate(sop, seq) for name, sop in sops.items()}


def l1_error(space, name, y, want):
    """Per position l1 distance between the `name` coordinates of y and one-hots of want."""
    sub = space.restrict(name)
    target = np.stack([sub.one_hot(name, v) for v in want])
    return np.abs(y[..., space.indices(sub)] - target).sum(axis=-1)


@pytest.mark.parametrize("tolerance", [numerics.CATEGORICAL_READ_TOLERANCE, 1e-6])
def test_categorical_aggregate_reverse_and_shift(tolerance):
    opp = (rasp.length - rasp.indices - 1).named("opp")
    prev = rasp.Map(lambda i: i - 1, rasp.indices).named("prev")
    idx_space = Space.categorical("indices", range(L))
    tok_space = Space.categorical("tokens", VOCAB)
    out_space = Space.categorical("out", VOCAB)
    rng = np.random.default_rng(0)
    for query_name, query_sop in (("opp", opp), ("prev", prev)):
        q_space = Space.categorical(query_name, range(-1, L))
        term = attention.select_term(q_space, idx_space, lambda k, q: k == q)
        head = attention.categorical_attention([term], tok_space, out_space, L, tolerance)
        space = residual(q_space, idx_space, tok_space, out_space)
        program = rasp.Aggregate(rasp.Select(rasp.indices, query_sop, rasp.Comparison.EQ),
                                 rasp.tokens)
        for n in (1, 2, 37, L):
            seq = list(rng.choice(VOCAB, n))
            cols = sop_columns(seq, **{query_name: query_sop, "indices": rasp.indices,
                                       "tokens": rasp.tokens})
            x = encode(space, cols)
            y = apply_block(head, space, x)
            want = rasp.evaluate(program, seq)
            assert decode_categorical(space, "out", y)[1:] == want
            scale = attention.head_scale(head)
            bound = numerics.attention_error_bound(L, scale, equal_values=True)
            assert bound <= tolerance
            assert l1_error(space, "out", y[1:], want).max() <= bound


def test_categorical_aggregate_equal_values_and_empty():
    """Several selected keys with the same value (Select(tokens, tokens, EQ)), and queries
    selecting nothing (the value is None there)."""
    tok_space = Space.categorical("tokens", VOCAB)
    key_space = Space.categorical("k", VOCAB + ["x"])
    term = attention.select_term(tok_space, key_space, lambda k, q: k == q)
    val_space = Space.categorical("v", ["p", "q"])
    out_space = Space.categorical("out", ["p", "q"])
    head = attention.categorical_attention([term], val_space, out_space, L, 0.25)
    space = residual(tok_space, key_space, val_space, out_space)
    rng = np.random.default_rng(1)
    seq = list(rng.choice(VOCAB[:4], L))
    seq[5] = "e"
    keys = ["x" if t in "de" else t for t in seq]  # "d" and "e" queries select nothing
    vals = ["p" if t in "ab" else "q" for t in seq]
    x = encode(space, {"tokens": seq, "k": keys, "v": vals})
    y = apply_block(head, space, x)
    # rasp.evaluate refuses several selected values even when equal; the head returns the
    # common value (the lowering decides whether to allow that).
    want = [None if t in "de" else ("p" if t in "ab" else "q") for t in seq]
    assert decode_categorical(space, "out", y)[1:] == want
    bound = numerics.attention_error_bound(L, attention.head_scale(head), equal_values=True)
    assert l1_error(space, "out", y[1:], want).max() <= bound


def mean_sweep(n):
    """Every (selected w, ones among them k) for n positions: keys 'sel' in {0,1}, value 1 on
    the first k selected and on every unselected key (the worst leak)."""
    sel, vals, want = [], [], []
    for w in range(n + 1):
        for k in range(w + 1):
            s = [1] * w + [0] * (n - w)
            v = [1] * k + [0] * (w - k) + [1] * (n - w)
            sel.append(s), vals.append(v), want.append(k / w if w else 0.0)
    return sel, vals, np.array(want)


def test_numerical_mean_every_fraction_at_L64():
    q_space = Space.categorical("q", [0])
    k_space = Space.categorical("sel", [0, 1])
    term = attention.select_term(q_space, k_space, lambda k, q: k == 1)
    v, out = Direction("v"), Direction("mean")
    xs = numerics.fractions(L)
    tolerance = numerics.min_gap(xs) / 8
    head = attention.numerical_attention([term], v, out, [0, 1], L, tolerance)
    space = residual(q_space, k_space, [v, out])
    sel, vals, want = mean_sweep(L)
    x = np.stack([encode(space, {"q": [0] * L, "sel": s, "v": vv}, numerical=["v"])
                  for s, vv in zip(sel, vals)])
    y = apply_block(head, space, x)
    means = decode_numerical(space, "mean", y)
    err = np.abs(means[:, 1:] - want[:, None]).max()
    bound = numerics.attention_error_bound(L, attention.head_scale(head))
    assert bound <= tolerance and err <= bound
    # A discretising reader of the mean, told the head's bound as its input error, decides
    # every fraction with the full margin.
    bucket = mlp.map_numerical_to_categorical_mlp(
        out, Space.categorical("frac", range(len(xs))), {x_: i for i, x_ in enumerate(xs)},
        input_error=bound)
    space2 = residual([out], bucket.out_space)
    x2 = np.zeros((len(want), 2, len(space2)), dtype=np.float32)
    x2[:, :, space2.index(ONE)] = 1
    x2[:, 0, space2.index(BOS)] = 1
    x2[:, 1, space2.index(out)] = means[:, 1]
    pre, update = mlp_forward(bucket, space2, x2)
    got = decode_categorical(space2, "frac", x2 + update)
    assert [g[1] for g in got] == [xs.index(w) for w in want.tolist()]
    check_ramps(bucket, pre, 1.5, positions=slice(1, 2))


def test_numerical_mean_frac_prevs_matches_evaluate():
    is_x = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, rasp.tokens))
    program = rasp.numerical(rasp.Aggregate(
        rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ), is_x, default=0))
    idx = Space.categorical("indices", range(L))
    term = attention.select_term(idx, idx, lambda k, q: k <= q)
    v, out = Direction("is_x"), Direction("frac")
    tolerance = numerics.min_gap(numerics.fractions(L)) / 8
    head = attention.numerical_attention([term], v, out, [0, 1], L, tolerance)
    space = residual(idx, [v, out])
    rng = np.random.default_rng(2)
    for n in (1, 17, L):
        seq = list(rng.choice(["a", "b"], n))
        x = encode(space, {"indices": list(range(n)), "is_x": rasp.evaluate(is_x, seq)},
                   numerical=["is_x"])
        got = decode_numerical(space, "frac", apply_block(head, space, x))[1:]
        assert np.abs(got - rasp.evaluate(program, seq)).max() <= tolerance


# ---------------------------------------------------------------- selector width


def width_block(numerical_output, terms=None):
    q_space = Space.categorical("q", [0])
    k_space = Space.categorical("sel", [0, 1])
    if terms is None:
        terms = [attention.select_term(q_space, k_space, lambda k, q: k == 1)]
    out_space = (Space.numerical("width") if numerical_output
                 else Space.categorical("width", range(L + 1)))
    block = selector_width(terms, out_space, L, numerical_output=numerical_output)
    return block, residual(q_space, k_space, out_space, block.mlp.in_space)


@pytest.mark.parametrize("numerical_output", [False, True])
def test_selector_width_every_width_at_L64(numerical_output):
    block, space = width_block(numerical_output)
    cases = [(n, w) for n in (1, 2, 33, L) for w in range(n + 1)]
    xs, wants = [], []
    for n, w in cases:
        x = encode(space, {"q": [0] * n, "sel": [1] * w + [0] * (n - w)})
        pad = np.zeros((L - n, len(space)))  # padded positions, masked out below
        xs.append(np.concatenate([x, pad])), wants.append(w)
    x = np.stack(xs)
    mask = np.array([[True] * (n + 1) + [False] * (L - n) for n, _ in cases])
    _, attn_update = attention_forward(block.attention, space, x, mask)
    h = x + attn_update
    shares = h[..., space.index(share_direction("selector_width"))]
    s_err = max(abs(shares[i, 1:n + 1] - 1 / (w + 1)).max() for i, (n, w) in enumerate(cases))
    bound = numerics.share_error_bound(L, numerics.selector_width_scale(L))
    assert s_err <= bound
    assert bound <= (1 / (8 * (L + 1) * (L + 2)) + numerics.softmax_float32_error(L)) * (1 + 1e-9)
    pre, mlp_update = mlp_forward(block.mlp, space, h)
    y = h + mlp_update
    assert np.allclose(y, apply_block(block, space, x, mask))
    for i, (n, w) in enumerate(cases):
        if numerical_output:
            got = decode_numerical(space, "width", y[i])[1:n + 1]
            assert np.abs(got - w).max() <= block.mlp.float32_error
        else:
            assert decode_categorical(space, "width", y[i])[1:n + 1] == [w] * n
        assert np.all(mlp_update[i, 0] == 0)
        check_ramps(block.mlp, pre[i], 1.5, positions=slice(1, n + 1))


def test_selector_width_constants_follow_exactness_md():
    """s >= ln(8 L (L+1)(L+2)); each slope lambda_k = 4/(gap_k - 2 delta) for the gap
    between the neighbouring shares it separates (so inputs sit >= 4 ramp half-widths away),
    which is >= 4/g with docs/exactness.md's g = 1/((L+1)(L+2)) from L = 16 on (g undercounts
    the true smallest gap 1/(L(L+1)), which is what the margin needs)."""
    for n in (4, 10, 16, 32, 64, 128):
        s = numerics.selector_width_scale(n)
        assert s >= math.log(8 * n * (n + 1) * (n + 2)) - 1e-12
        block = selector_width([attention.select_term(Space.categorical("q", [0]),
                                                      Space.categorical("k", [1]),
                                                      lambda k, q: True)],
                               Space.numerical("w"), n, numerical_output=True)
        row = block.mlp.w1[block.mlp.in_space.index(share_direction("selector_width"))]
        slopes = sorted(set(np.abs(row[np.abs(row) > 0]).round(3)))
        delta = numerics.share_error_bound(n, s)
        shares = sorted(1 / (w + 1) for w in range(n + 1))
        want = sorted({round(4 / (b - a - 2 * delta), 3) for a, b in zip(shares, shares[1:])})
        assert np.allclose(slopes, want, rtol=1e-5)
        if n >= 16:
            assert max(slopes) >= 4 * (n + 1) * (n + 2)
    assert numerics.selector_width_scale(64) == pytest.approx(14.6, abs=0.05)


def test_selector_width_hist_matches_evaluate():
    tok = Space.categorical("tokens", VOCAB)
    term = attention.select_term(tok, tok, lambda k, q: k == q)
    out_space = Space.categorical("hist", range(L + 1))
    block = selector_width([term], out_space, L)
    space = residual(tok, out_space, block.mlp.in_space)
    program = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ))
    rng = np.random.default_rng(3)
    for n in (1, 5, L):
        seq = list(rng.choice(VOCAB[:3], n))
        y = apply_block(block, space, encode(space, {"tokens": seq}))
        assert decode_categorical(space, "hist", y)[1:] == rasp.evaluate(program, seq)
    y = apply_block(block, space, encode(space, {"tokens": ["a"] * L}))
    assert decode_categorical(space, "hist", y)[1:] == [L] * L


def test_selector_width_causal():
    idx = Space.categorical("indices", range(L))
    term = attention.select_term(idx, idx, lambda k, q: True)
    out_space = Space.categorical("w", range(L + 1))
    block = selector_width([term], out_space, L)
    space = residual(idx, out_space, block.mlp.in_space)
    y = apply_block(block, space, encode(space, {"indices": list(range(L))}), causal=True)
    assert decode_categorical(space, "w", y)[1:] == list(range(1, L + 1))


# ---------------------------------------------------------------- composite selectors


def composite_inputs(rng, n):
    return list(rng.choice(VOCAB, n))


def run_width(terms, space_extra, columns, n_terms_label="w"):
    out_space = Space.categorical(n_terms_label, range(L + 1))
    block = selector_width(terms, out_space, L)
    space = residual(*space_extra, out_space, block.mlp.in_space)
    y = apply_block(block, space, encode(space, columns))
    return decode_categorical(space, n_terms_label, y)[1:]


def test_selector_and_over_different_sops():
    tok = Space.categorical("tokens", VOCAB)
    idx = Space.categorical("indices", range(L))
    terms = [attention.select_term(tok, tok, lambda k, q: k == q),
             attention.select_term(idx, idx, lambda k, q: k < q)]
    selector = rasp.SelectorAnd(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ),
                                rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LT))
    rng = np.random.default_rng(4)
    for n in (3, L):
        seq = composite_inputs(rng, n)
        got = run_width(terms, [tok, idx], {"tokens": seq, "indices": list(range(n))})
        assert got == rasp.evaluate(rasp.SelectorWidth(selector), seq)


def test_selector_not():
    tok = Space.categorical("tokens", VOCAB)
    terms = [attention.select_term(tok, tok, lambda k, q: k == q).negated()]
    selector = rasp.SelectorNot(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ))
    seq = composite_inputs(np.random.default_rng(5), L)
    got = run_width(terms, [tok], {"tokens": seq})
    assert got == rasp.evaluate(rasp.SelectorWidth(selector), seq)


def test_selector_or_through_a_product_sop():
    """SelectorOr over different s-ops: a SequenceMap MLP builds the product (token, index),
    then one Select over the product with the whole formula; width and numerical mean exact."""
    tok = Space.categorical("tokens", VOCAB)
    idx = Space.categorical("indices", range(L))
    pairs = {(t, i): (t, i) for t in VOCAB for i in range(L)}
    prod_space = Space.categorical("prod", pairs.values())
    product = mlp.sequence_map_mlp(tok, idx, prod_space, pairs, label="prod")
    formula = lambda k, q: k[0] == q[0] or abs(k[1] - q[1]) <= 2
    term = attention.select_term(prod_space, prod_space, formula)
    width_space = Space.categorical("w", range(L + 1))
    width = selector_width([term], width_space, L)
    is_a = Direction("is_a")
    tolerance = numerics.min_gap(numerics.fractions(L)) / 8
    mean = attention.numerical_attention([term], is_a, Direction("mean"), [0, 1], L, tolerance)
    space = residual(tok, idx, prod_space, width_space, width.mlp.in_space, [is_a],
                     mean.out_space)

    selector = rasp.SelectorOr(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ),
                               rasp.Select(rasp.indices, rasp.indices,
                                           lambda k, q: abs(k - q) <= 2))
    is_a_sop = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, rasp.tokens))
    mean_prog = rasp.numerical(rasp.Aggregate(selector, is_a_sop, default=0))
    rng = np.random.default_rng(6)
    for n in (2, L):
        seq = composite_inputs(rng, n)
        x = encode(space, {"tokens": seq, "indices": list(range(n)),
                           "is_a": rasp.evaluate(is_a_sop, seq)}, numerical=["is_a"])
        x = apply_block(product, space, x)
        y = apply_block(width, space, x)
        assert decode_categorical(space, "w", y)[1:] == rasp.evaluate(
            rasp.SelectorWidth(selector), seq)
        got = decode_numerical(space, "mean", apply_block(mean, space, x))[1:]
        assert np.abs(got - rasp.evaluate(mean_prog, seq)).max() <= tolerance


# ---------------------------------------------------------------- padding


def test_padding_never_changes_real_positions():
    tok = Space.categorical("tokens", VOCAB)
    term = attention.select_term(tok, tok, lambda k, q: k == q)
    out_space = Space.categorical("hist", range(L + 1))
    sw = selector_width([term], out_space, L)
    agg = attention.categorical_attention([term], tok, Space.categorical("copy", VOCAB), L, 0.25)
    space = residual(tok, out_space, sw.mlp.in_space, agg.out_space)
    rng = np.random.default_rng(7)
    n = 20
    seq = list(rng.choice(VOCAB, n))
    clean = encode(space, {"tokens": seq})
    junk = encode(space, {"tokens": list(rng.choice(VOCAB, L - n))}, bos=False)
    padded = np.concatenate([clean, junk])
    mask = np.arange(L + 1) <= n
    for block in (sw, agg):
        a = apply_block(block, space, clean)
        b = apply_block(block, space, padded, mask)[: n + 1]
        assert np.allclose(a, b, atol=1e-6)
        w, _ = (attention_forward(block, space, padded, mask) if block is agg
                else attention_forward(block.attention, space, padded, mask))
        assert np.all(w[:, n + 1:] == 0)


@pytest.mark.parametrize("values", [
    ["a", "b", "c"],          # tabulated by calling the comparison
    [0, 1, 2.5, True],        # orders by broadcasting, EQ/NEQ by hashing
    [(0, "b"), (2, "a"), (1, "c")],  # tuples: tabulated
])
@pytest.mark.parametrize("name", [c.name for c in rasp.Comparison])
@pytest.mark.parametrize("negated", [False, True])
def test_comparison_term_equals_the_comparison(values, name, negated):
    """Every path of `comparison_term` gives `Comparison[name](key, query)` per value pair,
    and its negation when asked (the tabulated path once dropped the negation, so that
    `~Select(tokens, tokens, LT)` over letters compiled as LT)."""
    queries, keys = Space.categorical("q", values), Space.categorical("k", values)
    term = attention.comparison_term(queries, keys, name, negated=negated)
    comparison = rasp.Comparison[name]
    want = np.array([[bool(comparison(k.value, q.value)) != negated for k in keys]
                     for q in queries])
    np.testing.assert_array_equal(term.table, want)


def _noisy(space: Space, held, error: float, excess: float, rng: np.random.Generator
           ) -> dict[Direction, float]:
    """A vector within l1 `error` of the one-hot of `held` (None: the zero vector) whose
    coordinates exceed 1 by at most `excess`: the held coordinate is 1 + excess (or off by
    the rest), the rest of the error spread with random signs over the others."""
    x = {d: 0.0 for d in space}
    rest = error
    if held is not None:
        d = Direction(space[0].name, held)
        shift = excess if rng.random() < 0.5 else -rng.random() * error / 2
        x[d] = 1.0 + shift
        rest -= abs(shift)
    others = [d for d in space if d.value != held]
    weights = rng.random(len(others))
    for d, w in zip(others, weights / weights.sum()):
        x[d] += rest * w * (1 if rng.random() < 0.7 else -1)
    return x


@pytest.mark.parametrize("excess", [(4e-7, 3e-7), (2e-3, 1e-3)])
@pytest.mark.parametrize("numerical", [False, True])
def test_direct_sequence_map_error_with_excess_and_margin_holds(numerical, excess):
    """Operands within l1 e1, e2 whose coordinates exceed 1 by at most o1, o2 (None operands
    too): the direct map's output error is within `direct_sequence_map_error` for margin 0
    and for margin max(o1, o2), where the bound is e1 + e2 + margin (not n2 e1 + n1 e2)."""
    rng = np.random.default_rng(0)
    xs, ys = Space.categorical("x", range(5)), Space.categorical("y", range(4))
    values = [-2.0, 0.5, 3.0] if numerical else ["p", "q", "r"]
    table = {(u, v): values[int(rng.integers(3))] for u in range(5) for v in range(4)}
    out = Space.of(Direction("z")) if numerical else Space.categorical("z", values)
    (e1, e2), (o1, o2) = (2e-3, 1e-3), excess
    for margin in (0.0, max(o1, o2)):
        block = mlp.sequence_map_mlp(xs, ys, out, table, direct=True,
                                     numerical_output=numerical, margin=margin)
        bound = mlp.direct_sequence_map_error(table, (5, 4), (e1, e2), numerical, (o1, o2),
                                              margin)
        if margin:
            scale = 3.0 if numerical else 1.0
            assert bound == pytest.approx(scale * (e1 + e2 + margin))
        space = join(xs, ys, [ONE, BOS], out)
        worst = 0.0
        for _ in range(400):
            u = None if rng.random() < 0.1 else int(rng.integers(5))
            v = None if rng.random() < 0.1 else int(rng.integers(4))
            row = {ONE: 1.0, **_noisy(xs, u, e1, o1, rng), **_noisy(ys, v, e2, o2, rng)}
            y = block_update(block, space, np.array([space.vector(row)]), dtype=np.float64)
            got = y[0, [space.index(d) for d in out]]
            want = np.zeros(len(out))
            if u is not None and v is not None:
                w = table[(u, v)]
                if numerical:
                    want[0] = w
                else:
                    want[out.index(Direction("z", w))] = 1.0
            worst = max(worst, float(np.abs(got - want).sum()))
        assert worst <= bound * (1 + 1e-9), (margin, worst, bound)
    assert mlp.direct_sequence_map_error(table, (5, 4), (e1, e2), numerical) == pytest.approx(
        (3.0 if numerical else 1.0) * (4 * e1 + 5 * e2))
