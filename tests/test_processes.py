"""A run of two processes on this machine (JAX, gloo collectives), as scripts/launch.py starts
it: the same losses as one process of two devices, one writer, Ctrl-C and --resume, a process
that dies, settings that differ, and backends that cannot."""
import csv
import ipaddress
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from conftest import JAX_CACHE, REPO, run_script
from launch import free_port, launch
from test_devices import TOLERANCE

FLAGS = ["--batch-size", "8", "--eval-samples", "0", "--ema-decay", "0", "--seed", "5", "--steps-per-epoch", "2"]
SIMULATED_TWO = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}


def environment(**extra):
    return {**os.environ, "KERAS_BACKEND": "jax", "JAX_COMPILATION_CACHE_DIR": str(JAX_CACHE),
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "PYTHONUNBUFFERED": "1", **extra}


class Watched:
    """A process started from the repository, its output (stdout and stderr) collected line by line."""

    def __init__(self, command, env):
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(iter(self.process.stdout.readline, "")))
        self.reader.start()

    def wait_for(self, text, timeout=300):
        deadline = time.time() + timeout
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None and time.time() < deadline, "".join(self.lines)[-3000:]
            time.sleep(0.2)

    def finish(self, timeout=400):
        code = self.process.wait(timeout=timeout)
        self.reader.join()
        return code, "".join(self.lines)


def losses(out):
    with open(out / "losses.csv") as f:
        rows = list(csv.reader(f))[1:]
    return [(int(r[0]), int(r[1])) for r in rows], np.array([[float(v) for v in r[2:]] for r in rows])


def relative_difference(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-3)))


@pytest.fixture(scope="module")
def one_process_two_devices(tiny_data, tmp_path_factory):
    """The reference: each script for 2 epochs of 2 steps in one process on two simulated devices."""
    pytest.importorskip("jax")
    found = {}
    for script in ("cgan_fashion", "acgan_fashion"):
        out = tmp_path_factory.mktemp(f"one-{script}")
        done = run_script([f"scripts/{script}.py", "--data-dir", tiny_data, "--out", out, "--epochs", "2",
                           "--devices", "2", *FLAGS], backend="jax", env=SIMULATED_TWO)
        assert done.returncode == 0, done.stderr[-3000:]
        found[script] = losses(out)
    return found


@pytest.fixture(scope="module")
def interrupted_and_resumed(tiny_data, tmp_path_factory):
    """The conditional GAN on two processes, Ctrl-C to the launcher in its first epoch, then
    --resume to the end of epoch 2."""
    out, spy = tmp_path_factory.mktemp("two-cgan"), tmp_path_factory.mktemp("spy")
    flags = ["--data-dir", tiny_data, "--out", out, "--epochs", "2", *FLAGS]
    first = launched("cgan_fashion", flags, spy)
    first.wait_for("[0] Epoch 1/2")
    first.process.send_signal(signal.SIGINT)
    stopped = first.finish()
    resumed = launched("cgan_fashion", flags + ["--resume"], spy).finish()
    return out, spy, stopped, resumed


@pytest.mark.slow
@pytest.mark.extended
def test_two_processes_compute_what_one_process_of_two_devices_computes(one_process_two_devices,
                                                                        interrupted_and_resumed, tiny_data,
                                                                        tmp_path):
    out, _, _, resumed = interrupted_and_resumed
    assert resumed[0] == 0, resumed[1][-3000:]
    steps, values = losses(out)
    assert steps == one_process_two_devices["cgan_fashion"][0] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert relative_difference(values, one_process_two_devices["cgan_fashion"][1]) < TOLERANCE
    code, output = launched("acgan_fashion", ["--data-dir", tiny_data, "--out", tmp_path / "run", "--epochs", "2",
                                              *FLAGS], tmp_path).finish()
    assert code == 0, output[-3000:]
    steps, values = losses(tmp_path / "run")
    assert steps == one_process_two_devices["acgan_fashion"][0]
    assert relative_difference(values, one_process_two_devices["acgan_fashion"][1]) < TOLERANCE


@pytest.mark.slow
@pytest.mark.extended
def test_ctrl_c_stops_both_processes_after_one_step_and_resume_goes_on(interrupted_and_resumed):
    out, _, stopped, resumed = interrupted_and_resumed
    assert stopped[0] == 130, stopped[1][-3000:]
    for index in (0, 1):
        assert f"[{index}] stopping after this step" in stopped[1]
    assert "[0] resuming from" in resumed[1] and "[1] resuming from" in resumed[1]
    assert "launch: process" not in resumed[1]
    assert (out / "generator.h5").is_file()


@pytest.mark.slow
@pytest.mark.extended
def test_only_process_0_writes_files(interrupted_and_resumed):
    out, spy, _, _ = interrupted_and_resumed
    written = {index: [line for line in (spy / f"writes-{index}.txt").read_text().splitlines() if str(out) in line]
               for index in (0, 1)}
    assert any("checkpoint.npz" in line for line in written[0]) and any("generator.h5" in line for line in written[0])
    assert written[1] == []


def launched(script, flags, spy_dir):
    """scripts/launch.py --processes 2 running `script` through tests/support/writespy.py."""
    return Watched([sys.executable, "scripts/launch.py", "--processes", "2", "--", "tests/support/writespy.py", str(spy_dir),
                    f"scripts/{script}.py", *map(str, flags)], environment())


def started(index, port, script, flags):
    """Process `index` of two, started by hand as a cluster manager would, with its own flags."""
    return Watched([sys.executable, f"scripts/{script}.py", *map(str, flags)],
                   environment(KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
                               KERAS_DISTRIBUTION_NUM_PROCESSES="2", KERAS_DISTRIBUTION_PROCESS_ID=str(index)))


def listening_addresses(port):
    """The local addresses of the sockets listening on `port` (from /proc/net/tcp and tcp6, whose
    addresses are 32-bit words in the machine's byte order); an IPv6 socket's IPv4 address as such."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            hex_address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                packed = b"".join(bytes.fromhex(hex_address[k:k + 8])[::-1] for k in range(0, len(hex_address), 8))
                address = ipaddress.ip_address(packed)
                found.append(str(getattr(address, "ipv4_mapped", None) or address))
    return found


@pytest.mark.slow
def test_a_killed_process_stops_the_other_with_one_line_and_the_coordinator_listened_on_loopback(tiny_data, tmp_path):
    pytest.importorskip("jax")
    port = free_port()
    flags = ["--data-dir", tiny_data, "--out", tmp_path, *FLAGS[:-2], "--epochs", "100", "--steps-per-epoch", "3"]
    first, second = (started(index, port, "cgan_fashion", flags) for index in (0, 1))
    try:
        first.wait_for(" s a step: about ")  # after its first epoch: training, both processes joined
        addresses = listening_addresses(port)
        second.process.kill()
        killed_at = time.time()
        code, output = first.finish(timeout=150)
    finally:
        for watched in (first, second):
            watched.process.kill()
    assert addresses == ["127.0.0.1"]
    assert time.time() - killed_at < 120
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert code == 3 and errors == ["error: process 1 of 2 stopped (no answer); process 0 stops too. The last "
                                    "checkpoint is kept: start every process again with --resume"], output[-3000:]
    assert "Traceback" not in output


def test_the_socket_check_sees_a_listener_on_every_interface():
    """The check above can fail: a socket bound to all interfaces is seen as such."""
    import socket
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        assert listening_addresses(listener.getsockname()[1]) == ["0.0.0.0"]
    with socket.socket(socket.AF_INET6) as listener:
        listener.bind(("::", 0))
        listener.listen()
        assert listening_addresses(listener.getsockname()[1]) == ["::"]
    with socket.socket(socket.AF_INET6) as listener:
        listener.bind(("::ffff:127.0.0.1", 0))
        listener.listen()
        assert listening_addresses(listener.getsockname()[1]) == ["127.0.0.1"]


@pytest.mark.slow
def test_processes_started_with_other_settings_are_refused(tiny_data, tmp_path):
    pytest.importorskip("jax")
    port = free_port()
    flags = ["--data-dir", tiny_data, "--out", tmp_path, *FLAGS[:-4]]
    both = [started(index, port, "cgan_fashion", flags + ["--seed", 5 + index]) for index in (0, 1)]
    for process in both:
        code, output = process.finish(timeout=300)
        errors = [line for line in output.splitlines() if line.startswith("error:")]
        assert code == 2 and errors == ["error: process 1 of 2 was started with other settings than process 0: "
                                        "seed 6 (process 0: 5); start every process with the same command line"], \
            output[-3000:]
        assert "Traceback" not in output
    assert not (tmp_path / "checkpoint.npz").exists()


def test_tensorflow_is_refused_above_one_process(tmp_path):
    done = run_script(["scripts/cgan_fashion.py", "--out", tmp_path], backend="tensorflow",
                      env={"KERAS_DISTRIBUTION_NUM_PROCESSES": "2", "KERAS_DISTRIBUTION_PROCESS_ID": "0"})
    assert done.returncode == 2
    assert done.stderr == ("error: KERAS_DISTRIBUTION_NUM_PROCESSES=2: a run of several processes trains on the JAX "
                           "backend (KERAS_BACKEND=jax); on tensorflow train in one process\n")


@pytest.mark.slow
def test_the_launcher_exits_with_a_failed_process_status(tmp_path):
    pytest.importorskip("jax")
    code, output = launched("cgan_fashion", ["--data-dir", tmp_path / "missing", "--out", tmp_path], tmp_path).finish()
    assert code == 2, output[-3000:]
    # Which process refuses first is a race; the launcher stops the other if it has not refused yet.
    report = re.search(r"launch: (process \d .*)", output).group(1).split(", ")
    refused = [int(part.split()[1]) for part in report if part.endswith("exited with status 2")]
    assert refused and all(f"[{index}] error: --data-dir" in output for index in refused), output[-3000:]
    assert sorted(refused + [int(part.split()[1]) for part in report if part.endswith(" stopped")]) == [0, 1], report


def test_a_process_still_starting_when_another_refuses_is_reported_stopped_not_failed(tmp_path, capfd):
    """The launcher stops the others at once after a refusal; their signal status is not the run's."""
    script = tmp_path / "refuse_or_wait.py"
    script.write_text("import os, sys, time\n"
                      "if os.environ['KERAS_DISTRIBUTION_PROCESS_ID'] == '1':\n"
                      "    sys.exit(2)\n"
                      "time.sleep(60)\n")
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        code = launch(2, [str(script)])
    finally:
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])
    assert code == 2
    assert "launch: process 1 exited with status 2, process 0 stopped" in capfd.readouterr().err
