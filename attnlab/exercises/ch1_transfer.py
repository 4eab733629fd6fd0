"""Chapter 1's transfer exercises: attention taken apart, designed and predicted, nowhere computed on the page.

Nothing on the chapter's page answers them by copying: merging two partial attentions over disjoint keys
from their log-sum-exps (the idea behind tiled attention, measured in chapter 6), designing queries and
keys that make every query look at a key chosen in advance, and predicting which outputs move when one
part of the layer changes. Each carries its worked solution and why it is right, for
:func:`attnlab.exercises.reveal`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._core import Case, Exercise, Mistake, describe_args

__all__ = ["EXERCISES"]


# ---- merge_attention ----------------------------------------------------------------------------


def _part(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of q over these keys alone, and the log-sum-exp of its scaled scores."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., L, S)
    return torch.softmax(scores, dim=-1) @ v, torch.logsumexp(scores, dim=-1)  # (..., L, Ev), (..., L)


def _merge_cases() -> list[Case]:
    g = torch.Generator().manual_seed(11)
    names = ("out_a", "lse_a", "out_b", "lse_b")
    cases = []
    # (batch, L, E, Ev, keys in A, keys in B, shift): the first has L = Ev; the last, lse near 1000
    for batch, L, E, Ev, s_a, s_b, shift in (
        ((), 4, 8, 4, 3, 5, 0.0),
        ((2,), 5, 8, 3, 6, 2, 0.0),
        ((2, 3), 3, 4, 6, 1, 7, 0.0),
        ((), 4, 8, 2, 4, 4, 1000.0),
    ):
        q = torch.randn(*batch, L, E, generator=g, dtype=torch.float64) * 2
        k = torch.randn(*batch, s_a + s_b, E, generator=g, dtype=torch.float64)
        v = torch.randn(*batch, s_a + s_b, Ev, generator=g, dtype=torch.float64)
        (out_a, lse_a), (out_b, lse_b) = (
            _part(q, k[..., :s_a, :], v[..., :s_a, :]),
            _part(q, k[..., s_a:, :], v[..., s_a:, :]),
        )
        # Adding one constant to every score changes no weight and adds it to both lse: large logits.
        args = (out_a, lse_a + shift, out_b, lse_b + shift)
        label = describe_args(names, args) + f" ({s_a} keys in A, {s_b} in B)"
        cases.append(Case(args, label + (f", lse near {shift:.0f}" if shift else "")))
    return cases


def _merge(out_a: torch.Tensor, lse_a: torch.Tensor, out_b: torch.Tensor, lse_b: torch.Tensor) -> torch.Tensor:
    lse = torch.logaddexp(lse_a, lse_b)  # (..., L): the log-sum-exp over all the keys
    return torch.exp(lse_a - lse)[..., None] * out_a + torch.exp(lse_b - lse)[..., None] * out_b  # (..., L, Ev)


def _shared(w_a: torch.Tensor, out_a: torch.Tensor, w_b: torch.Tensor, out_b: torch.Tensor) -> torch.Tensor:
    return (w_a[..., None] * out_a + w_b[..., None] * out_b) / (w_a + w_b)[..., None]


_MERGE = Exercise(
    id="merge_attention",
    chapter=1,
    title="Merge two partial attentions",
    signature="solution(out_a, lse_a, out_b, lse_b) -> Tensor",
    shapes="out_a, out_b (..., L, Ev); lse_a, lse_b (..., L) → (..., L, Ev)",
    task="The keys (and their values) are split into two disjoint sets, A and B. For the same queries, "
    "out_a is attention over the keys of A alone, softmax(q k_Aᵀ/√E) v_A, and lse_a the log-sum-exp of those "
    "scaled scores, lse_a[..., i] = log Σ_j∈A exp(s_ij); likewise out_b and lse_b. Return the attention of "
    "the same queries over all the keys, A and B together, without the queries, keys or values.",
    reference=_merge,
    cases=_merge_cases,
    mistakes=(
        Mistake(
            "equal_average",
            lambda oa, la, ob, lb: (oa + ob) / 2,
            "you gave the two parts equal shares: a part weighs what its keys' exp(scores) add up to, "
            "exp(lse_a) against exp(lse_b), so its share is exp(lse_a) / (exp(lse_a) + exp(lse_b)), not one half",
        ),
        Mistake(
            "linear_lse",
            lambda oa, la, ob, lb: _shared(la, oa, lb, ob),
            "you weighted the parts by lse_a / (lse_a + lse_b): lse is a logarithm, so a part's mass is "
            "exp(lse), and its share exp(lse_a) / (exp(lse_a) + exp(lse_b))",
        ),
        Mistake(
            "overflow",
            lambda oa, la, ob, lb: _shared(la.exp(), oa, lb.exp(), ob),
            "the shares are right, but exp(lse) overflows: with lse near 1000, exp gives inf and inf / inf "
            "is NaN. Subtract the larger lse before exp (or use torch.logaddexp): exp(lse_a − lse) with "
            "lse = logaddexp(lse_a, lse_b) is at most 1",
        ),
        Mistake(
            "summed",
            lambda oa, la, ob, lb: oa + ob,
            "you added the two outputs: each is already a weighted average (its weights sum to 1), so the "
            "sum counts one unit of weight twice; weigh each part by its share, and the shares sum to 1",
        ),
        Mistake(
            "swapped",
            lambda oa, la, ob, lb: _merge(ob, la, oa, lb),
            "the shares are swapped: out_a's share is exp(lse_a − lse), the mass of A's own keys",
        ),
        Mistake(
            "larger_only",
            lambda oa, la, ob, lb: torch.where((la >= lb)[..., None], oa, ob),
            "you kept the part with the larger lse: both parts count, each by its share of the mass, "
            "exp(lse_a) against exp(lse_b)",
        ),
        Mistake(
            "not_per_row",
            lambda oa, la, ob, lb: (
                torch.exp(la - torch.logaddexp(la, lb)) * oa + torch.exp(lb - torch.logaddexp(la, lb)) * ob
            ),
            "the shares multiply the wrong axis: lse is (..., L), one share per query, and the outputs "
            "(..., L, Ev); a query's share scales its whole row, so add an axis, share[..., None] * out_a",
        ),
    ),
    solution="""def my_merge_attention(out_a, lse_a, out_b, lse_b):
    lse = torch.logaddexp(lse_a, lse_b)  # (..., L): log of the mass of all the keys
    share_a = torch.exp(lse_a - lse)  # (..., L): A's share, at most 1, no overflow
    share_b = torch.exp(lse_b - lse)  # share_a + share_b = 1
    return share_a[..., None] * out_a + share_b[..., None] * out_b  # (..., L, Ev)""",
    explanation="Over all the keys, query i's weight on key j is exp(s_ij) / Z with Z = Z_A + Z_B, where "
    "Z_A = exp(lse_a) sums A's exp(scores). Within A, out_a already weighs key j by exp(s_ij) / Z_A; so the "
    "full output is (Z_A / Z)·out_a + (Z_B / Z)·out_b. In logs, Z_A / Z = exp(lse_a − logaddexp(lse_a, "
    "lse_b)), which never overflows. This is how tiled (flash) attention combines blocks of keys "
    "(chapter 6): the merged lse carries on to the next block.",
)


# ---- design_attention ---------------------------------------------------------------------------


def _circle(L: int, E: int) -> torch.Tensor:
    """L unit vectors evenly spaced on a circle, in the first two of E dimensions: (L, E)."""
    angle = 2 * math.pi * torch.arange(L, dtype=torch.float64) / L
    points = torch.zeros(L, E, dtype=torch.float64)
    points[:, 0], points[:, 1] = angle.cos(), angle.sin()
    return points


def _gap(L: int) -> float:
    """How much closer a point on the circle is to itself than to its nearest neighbour: 1 − cos(2π/L)."""
    return 1 - math.cos(2 * math.pi / L) if L > 1 else 1.0


def _design(perm: torch.Tensor, E: int) -> tuple[torch.Tensor, torch.Tensor]:
    L = len(perm)
    k = _circle(L, E)  # (L, E): key j is the point at angle 2πj/L
    scale = 50 * math.sqrt(E) / _gap(L)  # the right score beats every other by 50 after the 1/√E
    return scale * k[perm], k  # (L, E), (L, E): query i points where key perm[i] does


def _perm_cases() -> list[Case]:
    perms = ([2, 0, 3, 1], [1, 2, 0, 5, 3, 4], [3, 7, 0, 5, 1, 6, 2, 4], [4, 0, 1, 2, 3])
    cases = []
    for perm, E in zip(perms, (8, 16, 4, 2), strict=True):
        args = (torch.tensor(perm), E)
        cases.append(Case(args, describe_args(("perm", "E"), args)))
    return cases


def _weights(q: torch.Tensor, k: torch.Tensor, scale: bool = True) -> torch.Tensor:
    scores = q.double() @ k.double().transpose(-2, -1)  # (L, S)
    return torch.softmax(scores / math.sqrt(q.shape[-1]) if scale else scores, dim=-1)


def _verify_design(got: tuple[torch.Tensor, torch.Tensor], case: Case) -> str | None:
    perm = case.args[0]
    w = _weights(*got)  # (L, L)
    on_target = w[torch.arange(len(perm)), perm]  # (L,)
    i = int(on_target.argmin())
    if float(on_target[i]) >= 0.99:
        return None
    top, target = int(w[i].argmax()), int(perm[i])
    share = f"{float(on_target[i]):.2f}" if float(on_target[i]) >= 0.005 else "almost none"
    where = "its largest share" if top == target else f"its largest share, {float(w[i, top]):.2f}, goes to key {top}"
    return f"query {i} puts {share} of its weight on key {target} = perm[{i}], {where}; it needs 0.99 (on {case.label})"


def _looks_at(got: tuple[torch.Tensor, torch.Tensor], case: Case, keys: torch.Tensor, scale: bool = True) -> bool:
    """Whether every query's largest weight is on the key ``keys`` names for it."""
    return torch.equal(_weights(*got, scale=scale).argmax(-1), keys)


def _keys_collide(k: torch.Tensor) -> bool:
    """Whether two of the keys are the same vector (up to rounding)."""
    distance = torch.cdist(k.double(), k.double())  # (L, L)
    return bool((distance + torch.eye(len(k), dtype=torch.float64) < 1e-9 * (1 + k.double().abs().max())).any())


def _sharp(got: tuple[torch.Tensor, torch.Tensor], case: Case, scale: bool) -> bool:
    perm = case.args[0]
    return bool(_weights(*got, scale=scale)[torch.arange(len(perm)), perm].min() >= 0.99)


_DESIGN = Exercise(
    id="design_attention",
    chapter=1,
    title="Design attention that looks where you say",
    signature="solution(perm, E) -> (q, k)",
    shapes="perm (L,) a permutation of 0 … L − 1, E an int → q (L, E), k (L, E)",
    task="Design the queries and keys, not compute them: return q and k, each (L, E), such that in "
    "softmax(q kᵀ / √E) every query i puts at least 0.99 of its weight on key perm[i]. The 1/√E is part of "
    "the layer, as in this chapter. E may be smaller than L (8 keys in 4 dimensions, 5 in 2), so one-hot "
    "vectors do not always fit.",
    reference=_design,
    cases=_perm_cases,
    mistakes=(
        Mistake(
            "forgot_scaling",
            lambda perm, E: (
                _circle(len(perm), E)[perm] * (math.log(99 * len(perm)) + 1) / _gap(len(perm)),
                _circle(len(perm), E),
            ),
            "{symptom}. Every query prefers the right key, and without the 1/√E it would be sharp enough, "
            "but the layer divides the scores by √E: make the queries (or the keys) √E times longer",
            detect=lambda got, case: (
                _looks_at(got, case, case.args[0]) and not _sharp(got, case, True) and _sharp(got, case, False)
            ),
        ),
        Mistake(
            "not_sharp",
            lambda perm, E: (_circle(len(perm), E)[perm], _circle(len(perm), E)),
            "{symptom}. Every query prefers the right key, but not by enough: the weights come from a softmax, "
            "and a score that wins by a little gets little more weight than the others. Scale the queries up "
            "until the right score beats every other by about ln(99·L) after the 1/√E",
            detect=lambda got, case: _looks_at(got, case, case.args[0]) and not _sharp(got, case, False),
        ),
        Mistake(
            "same_keys",
            lambda perm, E: (100 * E * torch.eye(len(perm), E)[perm], torch.eye(len(perm), E)),
            "{symptom}. Some keys are the same vector, so no query can tell them apart. With more keys than "
            "dimensions one-hot keys run out (torch.eye(L, E) has rows of zeros past E): give the L keys L "
            "different directions, points on a circle in two of the E dimensions, say",
            detect=lambda got, case: _keys_collide(got[1]),
        ),
        Mistake(
            "transposed",
            lambda perm, E: (_circle(len(perm), E) * 100 * E, _circle(len(perm), E)[perm]),
            "{symptom}. The roles are swapped: query i looks at the key j with perm[j] = i, the inverse "
            "permutation. The query picks the key: put query i where key perm[i] is, q[i] ∝ k[perm[i]] (or "
            "did you return (k, q)?)",
            detect=lambda got, case: _looks_at(got, case, torch.argsort(case.args[0])),
        ),
        Mistake(
            "identity",
            lambda perm, E: (_circle(len(perm), E) * 100 * E, _circle(len(perm), E)),
            "{symptom}. Every query looks at its own key, i at i: perm is not used. Query i must match key "
            "perm[i], q[i] ∝ k[perm[i]]",
            detect=lambda got, case: _looks_at(got, case, torch.arange(len(case.args[0]))),
        ),
    ),
    output="tensors",
    dtype="float",
    parts=("q", "k"),
    verify=_verify_design,
    solution="""def my_design_attention(perm, E):
    L = len(perm)
    angle = 2 * math.pi * torch.arange(L, dtype=torch.float64) / L
    k = torch.zeros(L, E, dtype=torch.float64)
    k[:, 0], k[:, 1] = angle.cos(), angle.sin()  # L unit keys on a circle, any E >= 2
    # q_i · k_j = c·cos(angle): c for the right key, <= c·cos(2π/L) for the others
    c = 50 * math.sqrt(E) / (1 - math.cos(2 * math.pi / L))  # after / √E the gap is 50
    return c * k[perm], k  # query i points where key perm[i] does""",
    explanation="Query i looks at key perm[i] when q_i · k_perm[i] beats every other q_i · k_j by a wide margin: "
    "the softmax gives the winner e^gap / (e^gap + L − 1), so 0.99 needs a gap of about ln(99·L) after the "
    "division by √E. Any keys that are distinct unit vectors work if q_i is a long copy of k_perm[i]; L "
    "points on a circle fit in two dimensions, so E < L is no obstacle. The scale must cover the √E: "
    "attention learns such long queries when a task rewards a sharp map, as the trained lookup did.",
)


# ---- which_outputs_move -------------------------------------------------------------------------

_CHANGES = ("query", "key", "value", "same_to_queries", "same_to_keys", "same_to_values")


def _outputs_that_move(L: int, j: int, change: str) -> set[int]:
    if change == "query":
        return {j}  # only row j reads query j
    if change == "same_to_keys":
        return set()  # row i's scores all shift by q_i·c/√E: the softmax ignores it
    return set(range(L))  # every row reads key j and value j, with a weight above 0


def _wrong(change: str, answer: str) -> Callable[[int, int, str], set[int]]:
    """The rule, with the answer for one kind of change replaced: "own" {j}, "all" or "none"."""

    def rule(L: int, j: int, kind: str) -> set[int]:
        if kind != change:
            return _outputs_that_move(L, j, kind)
        return {j} if answer == "own" else set(range(L)) if answer == "all" else set()

    return rule


_MOVE_CASES = ((5, 2, "query"), (5, 2, "key"), (6, 0, "value"), (4, 3, "same_to_keys"), (6, 1, "same_to_values"))
_MOVE_CASES += ((5, 4, "same_to_queries"), (7, 6, "query"), (3, 1, "key"))

_WHICH_OUTPUTS = Exercise(
    id="which_outputs_move",
    chapter=1,
    title="Predict which outputs move",
    signature="solution(L, j, change) -> set",
    shapes="L ≥ 2 tokens, j a token index, change a word → a set of output rows (integers 0 … L − 1)",
    task="One attention layer, Z = softmax(Q Kᵀ / √E) V, over L ≥ 2 tokens (L queries, keys and values, no "
    "mask; any weights, nothing special). One thing changes, and everything else stays as it was: "
    "change='query', 'key' or 'value' changes token j's query, key or value alone; 'same_to_queries', "
    "'same_to_keys' or 'same_to_values' adds one and the same vector to every query, key or value (j is "
    "then not used). Predict the rows of Z that change, by any amount, however small. Return a set.",
    reference=_outputs_that_move,
    cases=lambda: [Case(a, describe_args(("L", "j", "change"), a)) for a in _MOVE_CASES],
    mistakes=(
        Mistake(
            "key_moves_own_row",
            _wrong("key", "own"),
            "{symptom}. Key j is read by every query: each row's score with key j changes, so each row's "
            "weights and output move. Only query j belongs to row j alone",
        ),
        Mistake(
            "query_moves_all",
            _wrong("query", "all"),
            "{symptom}. Query j is read by row j alone: row i's scores are q_i · k_j over the keys, so "
            "changing q_j moves row j and nothing else",
        ),
        Mistake(
            "value_moves_own_row",
            _wrong("value", "own"),
            "{symptom}. Every output is an average of all the values, with weights above 0 (a softmax is "
            "never exactly 0, however one-hot the map looks): changing v_j moves every row, a little or a lot",
        ),
        Mistake(
            "key_shift_moves_all",
            _wrong("same_to_keys", "all"),
            "{symptom}. Adding c to every key adds q_i · c / √E to every score of row i, the same for every "
            "key, and a softmax ignores a constant added to a row: no weight changes, nothing moves",
        ),
        Mistake(
            "query_shift_moves_nothing",
            _wrong("same_to_queries", "none"),
            "{symptom}. Adding c to every query adds c · k_j / √E to score (i, j), which differs from key to "
            "key: the weights change and every row moves. Only a shift of the keys cancels in the softmax",
        ),
        Mistake(
            "value_shift_moves_nothing",
            _wrong("same_to_values", "none"),
            "{symptom}. The softmax cancels a shift of the scores, not of the values: each output is an "
            "average of the values with weights summing to 1, so every row moves by exactly c",
        ),
    ),
    output="set",
    element="row",
    solution="""def my_which_outputs_move(L, j, change):
    if change == "query":
        return {j}  # row j alone reads query j
    if change == "same_to_keys":
        return set()  # each row's scores shift by one constant: the softmax ignores it
    # key j and value j are read by every row, with a weight above 0;
    # a shift of every query changes score (i, j) by c·k_j, different for each key;
    # a shift of every value moves each average by c
    return set(range(L))""",
    explanation="Row i of Z reads its own query q_i, every key and every value. So query j moves row j alone, "
    "and key j or value j moves every row: a softmax weight is never exactly 0. Adding c to every key adds "
    "q_i · c / √E to all of row i's scores, a constant the softmax removes: nothing moves. Adding c to every "
    "query adds c · k_j / √E, different for each key: everything moves. Adding c to every value moves each "
    "output by exactly c, since each row's weights sum to 1.",
)

EXERCISES = (_MERGE, _DESIGN, _WHICH_OUTPUTS)
