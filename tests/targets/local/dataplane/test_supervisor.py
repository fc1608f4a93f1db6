"""The supervisor in-process on loopback: when the runtime file says ready, and the time scale of
the health checks (given to the `DataPlane`, else the config's)."""

from __future__ import annotations

import asyncio

from test_flows import Recorder, config_with

from privlink.targets.local.dataplane import control, supervisor
from privlink.targets.local.dataplane.config_model import save_config
from privlink.targets.local.dataplane.supervisor import DataPlane

SLOW_HEALTH = {  # at time scale 1 a dead target takes 5 s x 2 to be unhealthy
    "interval_seconds": 5,
    "timeout_seconds": 2,
    "healthy_threshold": 2,
    "unhealthy_threshold": 2,
}


async def no_first_checks(rt, time_scale):
    return frozenset()


def test_runtime_says_ready_only_once_the_endpoint_listeners_are_bound(tmp_path, config_factory, monkeypatch):
    """`control.start` returns on `ready`; a health checker's runtime write during the first apply
    (its first result can come while the endpoint listeners are still being bound) must not say it."""
    cfg_path, rt_path = tmp_path / "dataplane.json", tmp_path / "runtime.json"
    save_config(cfg_path, config_factory())
    seen: list[dict] = []

    async def main() -> None:
        plane = DataPlane(cfg_path, rt_path)
        bind_endpoints = plane._apply_endpoints

        async def after_a_health_write(config):
            # hold the endpoint listeners back until a health checker has written the runtime
            for _ in range(200):
                if rt_path.exists():  # only a health checker writes it before the first apply ends
                    break
                await asyncio.sleep(0.01)
            seen.append(control.read_runtime(rt_path))
            await bind_endpoints(config)

        plane._apply_endpoints = after_a_health_write
        # every first check left to the target's loop, which writes the runtime when it decides
        monkeypatch.setattr(supervisor, "first_checks", no_first_checks)
        try:
            await plane.start()
            seen.append(control.read_runtime(rt_path))
        finally:
            await plane.shutdown(grace=0)

    asyncio.run(main())
    before, after = seen
    assert before, "no health checker wrote the runtime before the endpoints were bound"
    assert before["ready"] is False
    assert after["ready"] is True


def test_a_given_time_scale_replaces_the_configs_and_outlives_a_reload(tmp_path, block):
    cfg_path, rt_path = tmp_path / "dataplane.json", tmp_path / "runtime.json"

    async def main() -> None:
        async with Recorder() as a, Recorder() as b:
            config = config_with(block, [a.address, b.address], health_check=SLOW_HEALTH)
            assert config.time_scale == 1.0
            save_config(cfg_path, config)
            plane = DataPlane(cfg_path, rt_path, time_scale=0.01)
            try:
                await plane.start()
                assert control.read_runtime(rt_path)["time_scale"] == 0.01
                await plane.reload()
                assert control.read_runtime(rt_path)["time_scale"] == 0.01
                assert b.server is not None
                b.server.close()
                await b.server.wait_closed()
                # 5 s x 2 at time scale 1; 0.1 s here
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 3
                while plane.lbs["lb1"].health["t1"].state != "unhealthy":
                    assert loop.time() < deadline, plane.lbs["lb1"].states()
                    await asyncio.sleep(0.02)
                assert control.read_runtime(rt_path)["load_balancers"]["lb1"]["targets"]["t1"]["health"] == (
                    "unhealthy"
                )
            finally:
                await plane.shutdown(grace=0)

    asyncio.run(main())


def test_without_a_given_time_scale_each_config_brings_its_own(tmp_path, config_factory):
    cfg_path, rt_path = tmp_path / "dataplane.json", tmp_path / "runtime.json"
    save_config(cfg_path, config_factory().model_copy(update={"time_scale": 0.5}))

    async def main() -> None:
        plane = DataPlane(cfg_path, rt_path)
        try:
            await plane.start()
            assert control.read_runtime(rt_path)["time_scale"] == 0.5
            save_config(cfg_path, config_factory().model_copy(update={"time_scale": 0.25}))
            await plane.reload()
            assert control.read_runtime(rt_path)["time_scale"] == 0.25
        finally:
            await plane.shutdown(grace=0)

    asyncio.run(main())


def test_a_config_is_applied_with_its_new_targets_decided(tmp_path, block):
    """Right after an apply (what `up`, `sandbox inject` and `clear` wait for) the runtime says a
    listening target is healthy, a dead one unhealthy and a stopped instance unused, at time scale 1
    (the health check interval is 5 s: no check loop has had its turn)."""
    cfg_path, rt_path = tmp_path / "dataplane.json", tmp_path / "runtime.json"

    def health() -> dict[str, str]:
        targets = control.read_runtime(rt_path)["load_balancers"]["lb1"]["targets"]
        return {target_id: t["health"] for target_id, t in targets.items()}

    async def main() -> None:
        async with Recorder() as live:
            dead = ("127.0.0.1", 1)  # nothing listens on port 1
            config = config_with(block, [live.address, dead, live.address], health_check=SLOW_HEALTH)
            data = config.model_dump(mode="json")
            data["load_balancers"][0]["targets"][2]["stopped"] = True
            save_config(cfg_path, type(config).model_validate(data))
            plane = DataPlane(cfg_path, rt_path)
            try:
                await plane.start()
                assert health() == {"t0": "healthy", "t1": "unhealthy", "t2": "unused"}
                save_config(cfg_path, config)  # the instance runs again
                await plane.reload()
                assert health() == {"t0": "healthy", "t1": "unhealthy", "t2": "healthy"}
            finally:
                await plane.shutdown(grace=0)

    asyncio.run(main())
