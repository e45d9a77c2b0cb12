"""Request ids handed out by the gateway: our format, unique, and not repeated by a fork."""

from __future__ import annotations

import os
import re
import sys

import pytest

from aegis.engine import RequestIds, new_request_id

ID = re.compile(r"req_[0-9a-f]{24}")


def test_ids_have_the_request_id_format_and_do_not_repeat() -> None:
    ids = RequestIds()
    seen = [ids() for _ in range(50_000)]
    assert all(ID.fullmatch(i) for i in seen)
    assert ID.fullmatch(new_request_id())
    assert len(set(seen)) == len(seen)
    assert len({RequestIds()() for _ in range(100)}) == 100  # each generator seeded apart


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    ids = RequestIds()
    ids()  # seeded in the parent
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids, exit without pytest's teardown
        os.close(read)
        os.write(write, ",".join(ids() for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split(",")
    os.waitpid(pid, 0)
    parent = [ids() for _ in range(5)]
    assert len(child) == 5 and all(ID.fullmatch(i) for i in child)
    assert not set(child) & set(parent), (child, parent, sys.platform)
