"""Keeping this machine quiet while the serving section measures latencies of a millisecond:
its CPUs from halting when idle, and the kernel's own movable threads off the mock's CPU.

On a virtual machine an idle vCPU is halted, and waking it (a timer, a packet) costs a trip
through the hypervisor: measured here, a sleeping process woke 1.8 ms late at p99 on an idle
vCPU and 0.12 ms late on a busy one.  ``awake`` asks the kernel for a wake-up latency of
0 µs (a PM QoS request through ``/dev/cpu_dma_latency``, held while the file is open, as
latency-tuning tools do): idle CPUs then poll instead of halting (0.11 ms at p99 measured).
Where that file cannot be opened, a spinner of the lowest priority on each CPU
(``SCHED_IDLE``: run only when nothing else wants the CPU) keeps them busy instead, the
user-space form of booting with ``idle=poll``; it is the second choice only because it is
more processes on the CPUs being measured.

``kernel_threads_moved_off`` moves the kernel's threads that may run on any CPU (not the
per-CPU ones) off the mock's CPU: measured here, ``kdamond.0`` (the kernel's memory-access
monitor) woke every 0.5 s on the mock's CPU and ran for 1-3 ms ahead of it, holding back
every write due meanwhile (``perf sched``; ``rcu_preempt`` once for 4 ms too).  Their CPUs
are given back on leaving.  Both need root; without it nothing is changed, and the section's
table says so.
"""

from __future__ import annotations

import contextlib
import os
import struct
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

#: The file whose open descriptor holds a PM QoS request (Linux).
CPU_DMA_LATENCY = "/dev/cpu_dma_latency"
#: How ``awake`` keeps the CPUs from halting.
BY_PM_QOS = "cpu_dma_latency"
BY_SPINNERS = "spinners"
#: A kernel thread's flag in ``/proc/PID/stat`` (PF_KTHREAD).
_PF_KTHREAD = 0x00200000

#: A busy loop at the lowest scheduling priority (Linux's SCHED_IDLE).
_SPIN = "import os\nos.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\nwhile True:\n    pass\n"


@contextlib.contextmanager
def awake(cpus: Sequence[int | None]) -> Iterator[str | None]:
    """Keep the CPUs from halting while inside; yields how (``BY_PM_QOS``, ``BY_SPINNERS``
    on ``cpus``) or None (neither is possible here, or ``cpus`` has none to pin to)."""
    chosen = [cpu for cpu in cpus if cpu is not None]
    if not chosen:
        yield None
        return
    with _latency_request() as requested:
        if requested:
            yield BY_PM_QOS
            return
    with _spinners(chosen) as spinning:
        yield BY_SPINNERS if spinning else None


@contextlib.contextmanager
def _latency_request() -> Iterator[bool]:
    """Hold a request for 0 µs wake-up latency (True) while inside, if the kernel takes it."""
    try:
        fd = os.open(CPU_DMA_LATENCY, os.O_WRONLY)
    except OSError:
        yield False
        return
    try:
        try:
            os.write(fd, struct.pack("i", 0))
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing the file withdraws the request


@contextlib.contextmanager
def _spinners(cpus: Sequence[int]) -> Iterator[bool]:
    if not hasattr(os, "SCHED_IDLE"):
        yield False
        return
    spinners = [subprocess.Popen([sys.executable, "-c", _SPIN], stdin=subprocess.DEVNULL) for _ in cpus]
    try:
        for spinner, cpu in zip(spinners, cpus):
            os.sched_setaffinity(spinner.pid, {cpu})
        yield True
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def kernel_threads(cpu: int) -> list[tuple[int, str, set[int]]]:
    """The kernel's threads that may run on ``cpu`` and on other CPUs too: (pid, name, CPUs)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            allowed = os.sched_getaffinity(int(entry.name))
        except OSError:  # gone meanwhile
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        flags = int(stat[stat.rindex(")") + 2 :].split()[6])  # the 9th field; the name may hold spaces
        if flags & _PF_KTHREAD and cpu in allowed and len(allowed) > 1:
            found.append((int(entry.name), name, allowed))
    return sorted(found)


@contextlib.contextmanager
def kernel_threads_moved_off(cpu: int | None) -> Iterator[list[str]]:
    """Keep the kernel's movable threads off ``cpu`` while inside; yields the names of those
    moved (none without root, or with ``cpu`` None); their CPUs are given back on leaving."""
    moved: list[tuple[int, str, set[int]]] = []
    try:
        for pid, name, allowed in kernel_threads(cpu) if cpu is not None else []:
            try:
                os.sched_setaffinity(pid, allowed - {cpu})
            except OSError:  # a thread the kernel keeps placed itself (workqueues), gone, or not root
                continue
            moved.append((pid, name, allowed))
        yield [name for _, name, _ in moved]
    finally:
        for pid, _, allowed in moved:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, allowed)
