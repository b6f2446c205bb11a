import gc

import pytest

from backend.kit.collector import cyclic_collector_paused


def test_overlapping_pauses_enable_the_collector_when_the_last_ends() -> None:
    # Given the collector enabled
    assert gc.isenabled()

    # when two pauses overlap (two cores computed at once), the first ending first
    first = cyclic_collector_paused()
    second = cyclic_collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)

    # then it stays paused until the last ends, and is enabled again after it
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_failure_inside_ends_the_pause() -> None:
    with pytest.raises(RuntimeError), cyclic_collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled() -> None:
    gc.disable()
    try:
        with cyclic_collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
