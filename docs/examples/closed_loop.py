"""The closed loop with the demo personas, through the sandbox control API alone:
王阿姨 (1001) reports, 张书记 (3001) accepts and dispatches to 小李 (2001), 小李 takes and
resolves it, 王阿姨 confirms and rates it.

    python docs/examples/closed_loop.py http://127.0.0.1:8080
"""

from __future__ import annotations

import sys

from sandbox_api import Sandbox, ticket_number

WANG, LI, ZHANG = 1001, 2001, 3001


def main(base_url: str) -> None:
    box = Sandbox(base_url)
    receipt = box.say(WANG, "楼道里的灯坏了好几天了，晚上看不见路")
    number = ticket_number(receipt["text"])
    inbox = box.say(ZHANG, "/inbox")
    box.tap(
        ZHANG,
        next(
            key["text"]
            for row in inbox["reply_markup"]["inline_keyboard"]
            for key in row
            if number in key["text"]
        ),
        inbox,
    )
    box.tap(ZHANG, "受理", box.last(ZHANG, number))
    box.tap(ZHANG, "派单", box.last(ZHANG, number))
    box.tap(ZHANG, "小李")
    box.tap(LI, "接单", box.last(LI, number))
    box.tap(LI, "已处理")
    box.say(LI, "已更换灯泡")
    box.tap(WANG, "已解决", box.last(WANG, "问题解决了吗"))
    box.tap(WANG, "满意")
    box.tap(WANG, "跳过")
    mine = box.say(WANG, "/mytickets")
    lines = [key["text"] for row in mine["reply_markup"]["inline_keyboard"] for key in row]
    closed = next(line for line in lines if number in line)
    assert "已办结" in closed, closed
    assert box.violations() == []
    print(f"{number}: {closed}")


if __name__ == "__main__":
    main(sys.argv[1])
