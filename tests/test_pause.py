import asyncio
import threading

from rxstreamz import _pause


def test_no_flow_outside_a_push() -> None:
    assert _pause.current() is None


def test_producing_publishes_the_flow_for_one_push_only() -> None:
    async def main() -> None:
        flow = _pause.FlowControl(asyncio.get_running_loop())
        with _pause.producing(flow):
            assert _pause.current() is flow
        assert _pause.current() is None

    asyncio.run(main())


def test_a_flow_is_invisible_on_another_thread() -> None:
    seen: list[object] = []

    async def main() -> None:
        flow = _pause.FlowControl(asyncio.get_running_loop())
        with _pause.producing(flow):
            ctx_thread = threading.Thread(target=lambda: seen.append(_pause.current()))
            ctx_thread.start()
            ctx_thread.join(5)

    asyncio.run(main())
    assert seen == [None]


def test_wait_returns_once_every_pauser_resumed() -> None:
    events: list[str] = []

    async def main() -> None:
        flow = _pause.FlowControl(asyncio.get_running_loop())
        flow.pause("a")
        flow.pause("b")

        async def producer() -> None:
            await flow.wait()
            events.append("resumed")

        task = asyncio.create_task(producer())
        await asyncio.sleep(0)
        flow.resume("a")
        await asyncio.sleep(0)
        events.append("after a")
        flow.resume("b")
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    assert events == ["after a", "resumed"]


def test_resume_from_another_thread_wakes_the_loop() -> None:
    async def main() -> bool:
        flow = _pause.FlowControl(asyncio.get_running_loop())
        flow.pause("q")
        resumer = threading.Thread(target=flow.resume, args=("q",))
        resumer.start()
        await asyncio.wait_for(flow.wait(), 5)
        resumer.join(5)
        return flow.paused

    assert asyncio.run(main()) is False


def test_resume_by_a_stranger_or_after_the_loop_closed_is_harmless() -> None:
    loop = asyncio.new_event_loop()
    flow = _pause.FlowControl(loop)
    flow.resume("nobody")
    flow.pause("q")
    loop.close()
    resumer = threading.Thread(target=flow.resume, args=("q",))
    resumer.start()
    resumer.join(5)
    assert not flow.paused
