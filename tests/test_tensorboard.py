"""The TensorBoard events a run writes, read back as TensorBoard reads them: the losses, the metrics,
the grids and the settings; a resumed run's steps each once."""
import struct
from collections import defaultdict

import pytest
from tensorboardX.proto import event_pb2

import gan_fashion
from ganlib import cli
from conftest import settings_of


def records(path):
    """The events of one file: TFRecord framing (length, its CRC, the event, its CRC). A last
    record cut short (a writer killed in the middle) ends the file, as TensorBoard reads it."""
    data, events, at = path.read_bytes(), [], 0
    while at + 12 <= len(data):
        (length,) = struct.unpack("<Q", data[at:at + 8])
        if at + 12 + length + 4 > len(data):
            break
        event = event_pb2.Event()
        event.ParseFromString(data[at + 12:at + 12 + length])
        events.append(event)
        at += 12 + length + 4
    return events


def read_events(folder):
    """{tag: [(step, kind, value)]} of every event file in `folder`, in the order written; a file
    that starts with a purge step drops what earlier files wrote from that step on, as
    TensorBoard does for a run resumed from its checkpoint."""
    tags = defaultdict(list)
    for path in sorted(folder.glob("events.out.tfevents.*"), key=lambda p: records(p)[0].wall_time):
        for event in records(path):
            if event.HasField("session_log") and event.session_log.status == event.session_log.START:
                for tag in tags:
                    tags[tag] = [entry for entry in tags[tag] if entry[0] < event.step]
            for value in event.summary.value:
                if value.HasField("image"):
                    tags[value.tag].append((event.step, "image", value.image.height))
                elif value.metadata.plugin_data.plugin_name == "text":
                    tags[value.tag].append((event.step, "text", value.tensor.string_val[0].decode()))
                else:
                    tags[value.tag].append((event.step, "scalar", value.simple_value))
    return tags


def run(tiny_data, out, *flags):
    cli.run_main(gan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(out), "--epochs", "2",
                                    "--steps-per-epoch", "3", "--batch-size", "8", "--eval-every", "1",
                                    "--eval-samples", "20", *flags])


@pytest.mark.slow
def test_a_run_writes_its_losses_metrics_grids_and_settings(tiny_data, tmp_path):
    run(tiny_data, tmp_path)
    tags = read_events(tmp_path / "tensorboard")
    for loss in ("loss/d_real", "loss/d_fake", "loss/g"):
        steps = [step for step, kind, _ in tags[loss]]
        assert steps and steps == sorted(set(steps)) and steps[-1] == 6, (loss, steps)
    assert [step for step, _, _ in tags["metrics/fid"]] == [3, 6] and all(v > 0 for _, _, v in tags["metrics/fid"])
    assert [(step, kind) for step, kind, _ in tags["generated_plot"]] == [(3, "image"), (6, "image")]
    [(_, _, table)] = tags["settings/text_summary"]
    assert "| --batch-size | 8 |" in table and "| --learning-rate | 0.0002 |" in table


@pytest.mark.slow
@pytest.mark.extended
def test_a_resumed_run_writes_each_step_once(tiny_data, tmp_path, monkeypatch):
    """Killed after step 2 of epoch 2, its checkpoint at the end of epoch 1, then resumed: the
    steps the killed session logged after its checkpoint are not counted twice."""
    def settings(*flags):
        return settings_of(gan_fashion, "--data-dir", tiny_data, "--out", tmp_path, "--epochs", 2, "--steps-per-epoch", 3,
                           "--batch-size", 8, "--eval-samples", 0, *flags)

    def train(run_settings):
        g_model, d_model, gan_model, _ = gan_fashion.define_models(run_settings)
        gan_fashion.train(g_model, d_model, gan_model, gan_fashion.load_real_samples(run_settings), run_settings)

    logged = []
    log_step = gan_fashion.gr.Run.log_step

    def killed_after_five_steps(run, losses):
        log_step(run, losses)
        logged.append(1)
        if len(logged) == 5:
            run.settle()
            run.events.close()  # what the killed process had flushed
            raise KeyboardInterrupt

    monkeypatch.setattr(gan_fashion.gr.Run, "log_step", killed_after_five_steps)
    with pytest.raises(KeyboardInterrupt):
        train(settings())
    monkeypatch.setattr(gan_fashion.gr.Run, "log_step", log_step)
    train(settings("--resume"))
    steps = [step for step, _, _ in read_events(tmp_path / "tensorboard")["loss/g"]]
    assert steps == sorted(set(steps)) and 3 in steps and steps[-1] == 6  # epoch 1's last step kept, once
    assert len(list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))) == 2
