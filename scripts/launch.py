"""Start a training script as several processes on this machine, as a cluster would start it on
several: each process gets Keras' variables (KERAS_DISTRIBUTION_JOB_ADDRESSES with a free port,
_NUM_PROCESSES, _PROCESS_ID) and the same command line.

    python scripts/launch.py --processes 2 -- scripts/cgan_fashion.py --epochs 1 --steps-per-epoch 20

Each process's output lines are prefixed with its index ([0], [1]); Ctrl-C is passed to every
process (each finishes its step, process 0 writes the checkpoint; twice stops at once); the exit
status is the first non-zero one of any process. KERAS_BACKEND defaults to jax here: a run of
several processes trains on JAX (docs/scaling.md). Standard library only.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from ganlib.cli import ArgumentParser, int_up_to, run_main
from ganlib.atomic_files import UserError

GRACE_SECONDS = 180  # after a process fails, how long the others have to stop by themselves
REFUSED = 2  # a process's exit status for a refusal (one line): the run cannot start, so the others stop at once
MAX_PROCESSES = 64  # on one machine; more is a typo


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prefixed(stream, prefix):
    """Copies a process's output to ours, each line prefixed; a progress bar's \\r updates too."""
    for line in iter(stream.readline, b""):
        sys.stdout.buffer.write(prefix + line.replace(b"\r", b"\r" + prefix))
        sys.stdout.buffer.flush()


def launch(n_processes, command):
    port = free_port()
    processes, copiers = [], []
    for index in range(n_processes):
        env = {**os.environ, "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{port}",
               "KERAS_DISTRIBUTION_NUM_PROCESSES": str(n_processes), "KERAS_DISTRIBUTION_PROCESS_ID": str(index),
               "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax"), "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen([sys.executable, *command], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(process)
        copier = threading.Thread(target=prefixed, args=(process.stdout, f"[{index}] ".encode()), daemon=True)
        copier.start()
        copiers.append(copier)
    print(f"launch: {n_processes} processes, coordinator 127.0.0.1:{port}, pids "
          f"{', '.join(str(p.pid) for p in processes)}", flush=True)

    def forward(signum, frame):  # each process has a session of its own, so the terminal's Ctrl-C is passed on here
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    failed_at, stopped = None, set()
    while None in [p.poll() for p in processes]:  # every process polled: any() would stop at the first still running
        if failed_at is None and any(p.returncode for p in processes if p.returncode is not None):
            failed_at = time.time()
            if any(p.returncode == REFUSED for p in processes):
                for index, process in enumerate(processes):
                    if process.poll() is None:
                        process.terminate()
                        stopped.add(index)
        if failed_at is not None and time.time() - failed_at > GRACE_SECONDS:
            for process in processes:
                if process.poll() is None:
                    print(f"launch: process {processes.index(process)} still running {GRACE_SECONDS} s after "
                          "another failed: killing it", flush=True)
                    process.kill()
        time.sleep(0.2)
    for copier in copiers:
        copier.join(timeout=5)
    # A process stopped here after another refused is reported as stopped, and its signal status is
    # not the run's: which process refuses first is a race, the refusal is what the user needs.
    stopped = {index for index in stopped if processes[index].returncode < 0}
    failed = [(index, p.returncode) for index, p in enumerate(processes) if p.returncode and index not in stopped]
    if failed or stopped:
        print("launch: " + ", ".join([f"process {index} exited with status {code}" for index, code in failed]
                                     + [f"process {index} stopped" for index in sorted(stopped)]),
              file=sys.stderr, flush=True)
        return failed[0][1] if failed and failed[0][1] > 0 else 1
    return 0


def main(argv=None):
    parser = ArgumentParser(__doc__)
    parser.add_argument("--processes", type=int_up_to(MAX_PROCESSES), default=2, help="processes to start")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the script and its flags")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise UserError("name the script to start after --, for example: -- scripts/cgan_fashion.py --epochs 1")
    if not os.path.isfile(command[0]):
        raise UserError(f"{command[0]}: no such script")
    sys.exit(launch(args.processes, command))


if __name__ == "__main__":
    run_main(main)
