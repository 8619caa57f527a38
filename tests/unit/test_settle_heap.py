import gc

from shared.heap import GENERATION_0, fewer_collections, restore_heap, settle_heap


def test_a_settled_heap_leaves_start_up_objects_out_and_collects_young_ones_less_often():
    defaults = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] >= GENERATION_0
        assert gc.get_threshold()[1:] == defaults[1:]
    finally:
        restore_heap()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == defaults


def test_bulk_work_collects_young_objects_less_often_only_while_it_runs():
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] >= GENERATION_0
        assert gc.get_threshold()[1:] == before[1:]
    assert gc.get_threshold() == before
