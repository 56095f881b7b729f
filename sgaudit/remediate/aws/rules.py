"""What an AWS rule allows, in words and against a required grant: its signature, the part of
a grant that rules leave uncovered, how two sets of rules differ, and a rule described."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sgaudit.engine.diff import Differ
from sgaudit.model import Grant, Group, Rule
from sgaudit.net import ports


def gaps(grant: Grant, rules: Iterable[Rule], group: Group, differ: Differ) -> tuple[object, ...]:
    """The part of a required grant that ``rules`` do not allow (empty: fully covered)."""
    return differ.gaps(grant, differ.rule_rects(rules, group), group)


def covers_part(rule: Rule, grant: Grant, group: Group, differ: Differ) -> bool:
    return gaps(grant, [rule], group, differ) != gaps(grant, [], group, differ)


def signature(rule: Rule) -> tuple[str, int, int, str]:
    """What a rule allows, as a finding names it (no id, no description)."""
    return (rule.protocol, rule.from_port, rule.to_port, rule.source)


def describe_difference(before: Iterable[Rule], after: Iterable[Rule], *, with_ids: bool,
                        with_descriptions: bool = False) -> str:
    """"+1 rule: tcp 22 from 0.0.0.0/0" — empty when both hold the same rules."""
    def key(r: Rule) -> tuple[object, ...]:
        k: tuple[object, ...] = signature(r)
        if with_ids:
            k += (r.rule_id,)
        if with_descriptions:
            k += (r.description or None,)
        return k

    a = Counter(key(r) for r in before)
    b = Counter(key(r) for r in after)
    added = [r for r in after if (b - a)[key(r)]]
    gone = [r for r in before if (a - b)[key(r)]]
    parts = []
    if added:
        parts.append(f"+{len(added)} rule(s): " + "; ".join(describe_rule(r) for r in added[:3]))
    if gone:
        parts.append(f"-{len(gone)} rule(s): " + "; ".join(describe_rule(r) for r in gone[:3]))
    return ", ".join(parts)


def describe_rule(rule: Rule, with_id: bool = False) -> str:
    """"tcp 22 from 0.0.0.0/0", "all traffic from 0.0.0.0/0", "icmp type 8 from 10.0.0.0/8"."""
    if rule.protocol == ports.ALL:
        what = "all traffic"
    elif rule.protocol in ports.PORTED or rule.protocol in ports.ICMP:
        axis = ports.axis_interval(rule.protocol, rule.from_port, rule.to_port)
        what = f"{rule.protocol} {ports.format_axis(rule.protocol, [axis])}"
    else:
        what = f"protocol {rule.protocol}"
    text = f"{what} from {rule.source}"
    if with_id and rule.rule_id:
        text = f"{rule.rule_id} ({text})"
    return text
