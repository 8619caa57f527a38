"""The fault suite's line between a mail re-sent after a kill and a duplicate."""

import pytest

from faults.tally import Repeats, count_repeats

A, B = "<a@dankjewel>", "<b@dankjewel>"


@pytest.mark.parametrize(("arrivals", "kills", "in_flight", "expected"), [
    ([(A, 1.0), (B, 2.0)], [], 1, Repeats(0, 0)),
    ([(A, 1.0), (A, 2.0)], [], 1, Repeats(0, 1)),  # no kill: a duplicate
    ([(A, 10.0), (A, 75.0)], [10.01], 1, Repeats(1, 0)),  # accepted 10 ms before the kill, sent again later
    ([(A, 10.0), (A, 75.0)], [12.0], 1, Repeats(0, 1)),  # accepted 2 s before the kill: it should have been recorded
    ([(A, 10.0), (A, 75.0)], [9.0], 1, Repeats(0, 1)),  # accepted 1 s after the kill: not the killed sender's
    ([(A, 10.2), (A, 75.0)], [10.0], 1, Repeats(1, 0)),  # its last bytes were on their way when the sender died
    ([(A, 10.0), (B, 10.002), (A, 75.0), (B, 75.1)], [10.01], 1, Repeats(1, 1)),  # one mail in flight per connection
    ([(A, 10.0), (B, 10.002), (A, 75.0), (B, 75.1)], [10.01], 2, Repeats(2, 0)),
    ([(A, 10.0), (A, 75.0), (A, 76.0)], [10.01], 1, Repeats(1, 1)),  # a third copy has no kill behind it
    ([(A, 10.0), (A, 75.0), (A, 140.0)], [10.01, 75.5], 1, Repeats(2, 0)),  # killed again after the re-send
    ([(A, 10.0), (A, 10.5)], [10.8], 1, Repeats(0, 1)),  # the repeat came before the kill
    ([(None, 1.0), (None, 1.5)], [1.2], 1, Repeats(0, 1)),  # no Message-ID: never explained
])
def test_a_repeat_counts_as_resent_only_when_a_kill_explains_it(arrivals, kills, in_flight, expected):
    repeats = count_repeats(arrivals, kills, in_flight)
    assert (repeats.resent_after_kill, repeats.duplicates) == (expected.resent_after_kill, expected.duplicates)


def test_each_repeat_is_placed_against_the_nearest_kill():
    repeats = count_repeats([(A, 10.0), (A, 75.0), (B, 20.0), (B, 21.0)], [10.25, 30.0], 1)
    assert [round(offset, 2) for offset in repeats.offsets] == [-0.25, 9.75]
    assert count_repeats([(A, 1.0), (A, 2.0)], [], 1).offsets == (None,)
