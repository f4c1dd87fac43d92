"""The checksummed sidecar cache helper: every reason a cache cannot be used."""

import json

from regconv.utils.cache import cache_problem, sha256_file


def test_cache_problem_names_each_reason(tmp_path):
    data, side = tmp_path / "d.npz", tmp_path / "d.json"
    proto = {"n": 3, "seed": 0}
    assert cache_problem(data, side, proto, "sha") == "not cached"
    data.write_bytes(b"abc")
    side.write_text("{not json")
    assert cache_problem(data, side, proto, "sha").startswith("unreadable sidecar")
    side.write_text(json.dumps({"protocol": {"n": 2, "seed": 0}, "sha": sha256_file(data)}))
    assert cache_problem(data, side, proto, "sha") == "stale: the protocol changed (n)"
    side.write_text(json.dumps({"protocol": proto, "sha": "0" * 64}))
    assert cache_problem(data, side, proto, "sha").startswith("corrupt")
    side.write_text(json.dumps({"protocol": proto, "sha": sha256_file(data)}))
    assert cache_problem(data, side, proto, "sha") is None
