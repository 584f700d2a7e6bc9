"""The benchmark's no-TLS ping-pong reference (bench/pingpong.py
``pingpong_plain``, bench/runner.py ``Workload.plain``): real runs of the C
floor and the Python loops against the real ``c_floor`` peers over loopback,
a few hundred round trips each, and the ratios the report derives from them."""

import dataclasses
import math

import pytest

from bench import cfloor, common, pingpong, runner

COUNT = 200


@pytest.fixture(scope="module")
def bench_ctx():
    try:
        cfloor.build()
    except common.BenchError as exc:
        pytest.skip(f"the C floor cannot be built here: {exc}")
    certs = common.Certs()
    cf = cfloor.CFloor(certs)
    try:
        # (tlsfast-c only: the bench pins X25519 with set_ecdh_curve, which
        # the stdlib's -- so the twin's -- refuses before Python 3.10)
        yield runner.Context(certs, common.load_impls(certs, ["tlsfast-c"]), cf, True)
    finally:
        cf.close()
        certs.cleanup()


def _workloads():
    return {w.name: dataclasses.replace(w, quick={"size": 64, "count": COUNT})
            for w in pingpong.workloads()}


def test_plain_row_has_c_and_python_only(bench_ctx):
    w = _workloads()["pingpong_plain"]
    [res] = runner.run([w], bench_ctx, 1, list(common.IMPLS), log=lambda m: None)
    assert res["errors"] == {}
    assert sorted(res["impls"]) == ["c-floor", "python-plain"]
    for d in res["impls"].values():
        assert d["ops"] == COUNT
        assert d["samples"][0]["peer"]["echoed"] == 64 * COUNT
        assert d["cost"] > 0 and d["cpu_cost"] > 0


def test_tls_row_divided_by_its_plain_row(bench_ctx):
    ws = _workloads()
    names = ["c-floor", "tlsfast-c", "python-plain"]
    tls, plain = runner.run([ws["pingpong"], ws["pingpong_plain"]], bench_ctx, 1, names,
                            log=lambda m: None)
    assert tls["errors"] == {} and plain["errors"] == {}
    assert "python-plain" not in tls["impls"]
    c_plain, py_plain = plain["impls"]["c-floor"], plain["impls"]["python-plain"]
    # one repetition: every median is that repetition's figure
    for name, d in tls["impls"].items():
        ref = c_plain if name == "c-floor" else py_plain
        assert math.isclose(d["x_plain"], d["cost"] / ref["cost"])
        assert math.isclose(d["x_plain_cpu"], d["cpu_cost"] / ref["cpu_cost"])
    c_tls = tls["impls"]["c-floor"]
    assert math.isclose(tls["bound"], (py_plain["cost"] + c_tls["cost"] - c_plain["cost"])
                        / c_tls["cost"])
    assert math.isclose(tls["bound_cpu"], (py_plain["cpu_cost"] + c_tls["cpu_cost"]
                                           - c_plain["cpu_cost"]) / c_tls["cpu_cost"])


def test_tls_row_without_its_plain_row_has_no_plain_ratios(bench_ctx):
    [tls] = runner.run([_workloads()["pingpong"]], bench_ctx, 1, ["c-floor", "tlsfast-c"],
                       log=lambda m: None)
    assert tls["errors"] == {}
    assert tls["bound"] is None and tls["bound_cpu"] is None
    assert all(d["x_plain"] is None for d in tls["impls"].values())


def test_plain_runner_refuses_a_tls_column(bench_ctx):
    with pytest.raises(common.BenchError, match="no TLS"):
        pingpong.pingpong_plain("stdlib", {"size": 64, "count": COUNT}, bench_ctx)
