"""TemplateAssigner: per-stream miners, read-only replay below ``through``, due snapshots."""

from __future__ import annotations

from streams.logs.assignment import TemplateAssigner
from streams.logs.templates import LogTemplateMiner

KEY = ("aiops.logs", 3)


def record(bodies: list[str], apps: list[str] | None = None) -> dict:
    apps = apps or ["cart"] * len(bodies)
    return {"cluster": "c1", "bodies": bodies,
            "labels": [{"namespace": "shop", "app": a} for a in apps]}


def sizes(a: TemplateAssigner, key=KEY) -> dict[str, int]:
    return {s: sum(c.size for c in st.miner.miner.drain.id_to_cluster.values())
            for s, st in a.partitions[key].items()}


def test_streams_are_mined_apart_and_ids_follow_the_text() -> None:
    a = TemplateAssigner()
    got = a.assign(KEY, 0, record(["login alice ok", "login bob ok", "login carol ok"],
                                  ["cart", "pay", "cart"]))
    assert got.streams == [("c1", "shop", "cart"), ("c1", "shop", "pay"), ("c1", "shop", "cart")]
    # cart generalised at its second line; pay has seen one line only
    assert got.templates == ["login alice ok", "login bob ok", "login <*> ok"]
    assert got.params == [[], [], ["carol"]]
    assert got.ids[1] == LogTemplateMiner().add("login bob ok").template_id
    assert sizes(a) == {"c1/shop/cart": 2, "c1/shop/pay": 1}


def test_snapshots_are_due_on_template_changes_and_restore_exactly() -> None:
    a = TemplateAssigner(save_every_s=60)
    a.assign(KEY, 0, record(["disk sda failed", "disk sdb failed"]))
    (snap,) = a.due(KEY, now=0)
    assert (snap.stream, snap.offset) == ("c1/shop/cart", 1)
    a.saved(KEY, snap.stream, snap.offset, now=0)
    assert a.due(KEY, now=1) == []
    a.assign(KEY, 1, record(["disk sdc failed"]))  # no template change: not due yet
    assert a.due(KEY, now=2) == []
    assert [s.offset for s in a.due(KEY, now=61)] == [2]  # sizes, once a minute
    # a new process restores offset 1; offset 1 (replayed) is looked up, offset 2 is mined
    b = TemplateAssigner()
    assert b.load(KEY, [(snap.stream, snap.offset, snap.state)]) == 1
    again = b.assign(KEY, 0, record(["disk sda failed", "disk sdb failed"]))
    assert again.templates == ["disk <*> failed"] * 2 and sizes(b) == {"c1/shop/cart": 2}
    later = b.assign(KEY, 1, record(["disk sdd failed"]))
    assert later.ids == again.ids[:1] and later.params == [["sdd"]]
    assert sizes(b) == {"c1/shop/cart": 3}


def test_a_corrupt_snapshot_starts_that_stream_afresh() -> None:
    a = TemplateAssigner()
    assert a.load(KEY, [("c1/shop/cart", 5, b"not zlib")]) == 0
    assert a.loaded(KEY)
    assert a.assign(KEY, 5, record(["hello 1"])).templates == ["hello <NUM>"]
    a.forget([KEY])
    assert not a.loaded(KEY)


def test_param_values_equal_the_full_parameters() -> None:
    m = LogTemplateMiner()
    lines = ["user 1 from 10.0.0.1 said hi", "user 2 from 10.0.0.2 said bye",
             "GET /a/b took 3ms", "GET /c/d took 4ms", "job x1 done", "job y2 done",
             "conn db-1 <NUM> literal", "conn db-2 <NUM> literal"]
    for line in lines:
        match = m.add(line)
        fast = match.param_values()  # before .params is computed (and cached)
        assert fast == [p.value for p in match.params], line
