"""Onboard a new resident through the sandbox control API alone.

python docs/examples/onboard.py http://127.0.0.1:8080 [user_id]
"""

from __future__ import annotations

import sys

from sandbox_api import Sandbox


def main(base_url: str, user_id: int) -> None:
    box = Sandbox(base_url)
    notice = box.say(user_id, "/start", first_name="周阿姨")
    assert "我们保存" in notice["text"], notice
    box.tap(user_id, "同意", notice)
    box.tap(user_id, "平江街道")
    box.tap(user_id, "悬桥社区")
    me = box.say(user_id, "/me")
    assert "社区：悬桥社区" in me["text"], me
    assert box.violations() == []
    print(f"onboarded {user_id}: {me['text'].splitlines()[2]} · 悬桥社区")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 9001)
