"""`Recent`, the bounded most-recently-used map behind the API key cache: full, it lets go of the
entry read or written longest ago."""

from engram_agents.recent import Recent


def test_the_least_recently_used_entry_goes_first_and_a_read_keeps_one():
    recent: Recent[str, int] = Recent(2)
    recent.put("a", 1)
    recent.put("b", 2)
    assert recent.get("a") == 1  # now "b" is the oldest
    recent.put("c", 3)
    assert (recent.get("a"), recent.get("b"), recent.get("c")) == (1, None, 3)
    recent.put("a", 10)  # a write refreshes too
    recent.put("d", 4)
    assert (recent.get("a"), recent.get("c"), recent.get("d")) == (10, None, 4)
