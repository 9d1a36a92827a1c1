"""Example programs for `tracr-compile` (and the lit tests)."""

from tracr_ir import lib, rasp

hist = lib.make_hist()


def sort_unique():
    return lib.make_sort_unique(rasp.tokens, rasp.tokens)


def frac_prevs():
    return lib.make_frac_prevs(rasp.tokens == "x")


not_a_program = 42
