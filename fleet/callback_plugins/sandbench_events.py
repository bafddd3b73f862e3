# sandbench's Ansible stdout callback: one JSON object per line for every event `sandbench
# fleet` shows (task start per host, ok, failed, unreachable, skipped, async polls, the final
# stats), so that the Rust side follows each host live. Only what it reads is written: a
# task's name, a host's name, a short message and, for the facts and run tasks, a few fields.
from __future__ import annotations

import json
import os
import sys

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: sandbench_events
    type: stdout
    short_description: JSON lines of host events for sandbench fleet
    description: One JSON object per line per host event; read by `sandbench fleet`.
"""

MAX_MSG = 2000
FACT_KEYS = (
    "ansible_architecture",
    "ansible_processor_vcpus",
    "ansible_processor_cores",
    "ansible_memtotal_mb",
    "ansible_kernel",
    "ansible_distribution",
    "ansible_distribution_version",
    "ansible_hostname",
)


def _short(text) -> str:
    text = "" if text is None else str(text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_MSG else text[: MAX_MSG - 1] + "…"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "sandbench_events"

    def _emit(self, **event) -> None:
        sys.stdout.write(json.dumps(event, sort_keys=True) + "\n")
        sys.stdout.flush()

    @staticmethod
    def _message(result) -> str:
        r = result._result
        parts = [r.get("msg"), r.get("stderr"), r.get("module_stderr")]
        text = "; ".join(_short(p) for p in parts if p)
        text = _short(text or r.get("stdout") or "")
        if os.environ.get("SANDBENCH_FLEET_DEBUG"):
            text += " " + _short(json.dumps(r, default=str))
        return text

    def v2_playbook_on_start(self, playbook):
        self._emit(event="start", playbook=_short(playbook._file_name))

    def v2_runner_on_start(self, host, task):
        self._emit(event="task", host=host.get_name(), task=_short(task.get_name()))

    def v2_runner_on_ok(self, result):
        r = result._result
        event = {"event": "ok", "host": result._host.get_name(), "task": _short(result._task.get_name())}
        facts = r.get("ansible_facts") or {}
        picked = {k[len("ansible_"):]: facts[k] for k in FACT_KEYS if k in facts}
        picked.update({k: v for k, v in facts.items() if k.startswith("sb_")})
        if picked:
            event["facts"] = picked
        for key in ("rc", "sb_state", "sb_run_dir", "sb_can_run"):
            if key in r:
                event[key] = r[key]
        if "stdout" in r and result._task.get_name().startswith("sandbench"):
            event["stdout_tail"] = _short("\n".join(str(r["stdout"]).splitlines()[-5:]))
        self._emit(**event)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        msg = str(result._result.get("msg", ""))
        if result._result.get("unreachable") or msg.startswith("Failed to connect to the host via ssh"):
            # A connection lost inside a retried task (the async poll) comes as a failure
            # carrying the SSH connection plugin's message.
            self.v2_runner_on_unreachable(result)
            return
        self._emit(
            event="failed",
            host=result._host.get_name(),
            task=_short(result._task.get_name()),
            msg=self._message(result),
            ignored=bool(ignore_errors),
        )

    def v2_runner_on_unreachable(self, result):
        self._emit(
            event="unreachable",
            host=result._host.get_name(),
            task=_short(result._task.get_name()),
            msg=self._message(result),
        )

    def v2_runner_on_skipped(self, result):
        self._emit(event="skipped", host=result._host.get_name(), task=_short(result._task.get_name()))

    def v2_runner_on_async_poll(self, result):
        self._emit(event="poll", host=result._host.get_name(), task=_short(result._task.get_name()))

    def v2_runner_retry(self, result):
        self._emit(event="poll", host=result._host.get_name(), task=_short(result._task.get_name()))

    def v2_playbook_on_stats(self, stats):
        hosts = {}
        for h in sorted(stats.processed.keys()):
            s = stats.summarize(h)
            hosts[h] = {k: s.get(k, 0) for k in ("ok", "changed", "failures", "unreachable", "skipped")}
        self._emit(event="stats", hosts=hosts)
