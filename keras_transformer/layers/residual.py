"""The residual wrapper around every Transformer sublayer, pre-LN or post-LN."""

from __future__ import annotations


def residual(x, sublayer, norm, dropout, norm_first: bool, training=None):
    """Apply `sublayer` with a residual connection and layer normalization.

    Post-LN (the paper, BERT): `norm(x + dropout(sublayer(x)))`.
    Pre-LN (GPT-2, most modern models): `x + dropout(sublayer(norm(x)))`,
    which keeps an identity path from input to output and trains more stably
    without warm-up.

    `sublayer` is a one-argument callable; a sublayer that returns a tuple
    (output, extras...) has its extras passed through:
    `residual(...)` then returns `(y, extras...)`.
    """
    out = sublayer(norm(x) if norm_first else x)
    extras = ()
    if isinstance(out, tuple):
        out, extras = out[0], out[1:]
    y = x + dropout(out, training=training)
    if not norm_first:
        y = norm(y)
    return (y, *extras) if extras else y
