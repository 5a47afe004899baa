"""The bridge's event loop: uvloop by default, the standard loop on request, a clear error otherwise."""

from __future__ import annotations

import asyncio

import pytest

from realtime_bridge import event_loop


@pytest.mark.parametrize(("name", "module"), [("uvloop", "uvloop"), ("asyncio", "asyncio")])
def test_run_uses_the_named_loop(name: str, module: str) -> None:
    async def which() -> str:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop()).__module__.split(".")[0]

    assert event_loop.run(which(), name) == module


def test_an_unknown_loop_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown event loop 'trio': choose one of uvloop, asyncio"):
        event_loop.loop_factory("trio")
