"""Benchmark of the real training step of notebook 03 (ContrastiveEnergyNetwork.train_step), compiled vs eager,
and against the same step written in PyTorch, build after build.

    python tools/benchmark_train_step.py                      # batch 128, k=3, chains from noise, 03's network
    python tools/benchmark_train_step.py --lipschitz-bound 0  # the plain MLP (no spectral normalisation)
    python tools/benchmark_train_step.py --lipschitz-bound 0 --activation relu --builds 5 --pytorch
                                                              # 5 fresh builds, each followed by the PyTorch loop
    python tools/benchmark_train_step.py --lipschitz-bound 0 --activation relu --builds 5 --pytorch --xla-langevin
                                                              # the same with the Langevin loop compiled by XLA

Each build is a fresh process (a new model, a new `fit`: what a student's notebook gets), timed over --steps compiled
steps after a warm-up: the median time between consecutive batch ends (a batch-level callback stamps them), and
separately the whole `fit` call and the time from the last batch to `fit` returning. That last one held a lump of
0.7-2.2 s, which made whole short `fit` calls look bimodal: the shutdown of tf.data's autotuning thread when `fit`
drops its iterator; the series' pipelines switch autotuning off (`ebm_tutorial.training.steady`), and so does this
benchmark unless --tfdata-autotune (README, Speed). With --pytorch, tools/benchmark_pytorch_reference.py runs the same
step after every build, so
both are timed alternately in the same minutes; the summary gives every build, the medians and torch_ms / ours_ms.
Writes data/benchmark_train_step.json (or --output). Not a test: timings depend on the machine and on what else runs,
so nothing here asserts a speed. Never run it while a training shares the cores.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS.parent / "notebooks"))
from ebm_tutorial.artifacts import register

register(
    "benchmark_train_step.json", "tools/benchmark_train_step.py", read_by="—",
    contents="one build: median ms per compiled step (between batch ends), ms per step of the whole `fit` call, ms "
             "after the last batch, eager ms; with `--builds N` / `--pytorch`: every build, the medians and "
             "torch_ms / ours",
)


def milliseconds_per_step(model, images, batch_size, steps, warmup, autotune=False, steps_per_execution=1):
    """(median ms between consecutive batch ends, ms per step of the whole `fit` call, ms from the last batch's end
    to `fit` returning). The last can reach seconds in some builds: timing whole short `fit` calls inflates it.
    With steps_per_execution > 1, Keras calls batch-end callbacks once per execution: the median is divided by it."""
    import keras
    import numpy as np
    import tensorflow as tf
    from ebm_tutorial.training import steady

    dataset = tf.data.Dataset.from_tensor_slices(images).repeat().batch(batch_size, drop_remainder=True)
    dataset = dataset if autotune else steady(dataset)  # the series' pipelines switch tf.data's autotuning off
    model.fit(dataset, steps_per_epoch=warmup, epochs=1, verbose=0, shuffle=False)  # traces and compiles the step
    batch_ends = []
    stamp = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: batch_ends.append(time.perf_counter()))
    started = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False, callbacks=[stamp])
    finished = time.perf_counter()
    median_step = 1000 * statistics.median(np.diff(batch_ends)) / steps_per_execution
    return median_step, 1000 * (finished - started) / steps, 1000 * (finished - batch_ends[-1])


def xla_langevin_loop(network, sampler, steps):
    """The sampler's `steps` updates (ebm_tutorial.sampling.langevin_step) compiled by XLA as one unrolled loop, the
    noise given: loop(x, noise) with noise of shape (steps, *x.shape), already scaled by sampler.noise_scale."""
    import tensorflow as tf
    from ebm_tutorial.sampling import langevin_step

    @tf.function(jit_compile=True)
    def loop(x, noise):
        for step in range(steps):
            x = langevin_step(network, x, sampler, None, noise=noise[step])[0]
        return x

    return loop


def xla_langevin_model(ebm, network, settings):
    """The trainer with its Langevin loop compiled by XLA and the noise of all k steps drawn before it, in one call
    (XLA's own random-number kernels are slow on CPU: README, Speed). Another random stream than the trainer's: the
    same seed gives other chains, so this is a measurement, not the series' trainer."""
    import keras
    import tensorflow as tf

    loop = xla_langevin_loop(network, settings.sampler, settings.langevin_steps)

    class XlaLangevin(ebm.ContrastiveEnergyNetwork):
        def train_step(self, data):
            start, _ = self.chain_starting_points(data)  # chains from noise only (checked in main)
            noise = settings.sampler.noise_scale * keras.random.normal((settings.langevin_steps, *start.shape),
                                                                       seed=self.seed_generator)
            negatives = tf.stop_gradient(loop(start, noise))
            self.latest_negatives.assign(negatives[:8])
            with tf.GradientTape() as tape:
                loss, values = self.contrastive_loss(data, negatives, training=True)
            return self.update_weights(tape, loss, values, self.energy_network.trainable_variables)

    return XlaLangevin(network, settings)


def build(arguments, run_eagerly):
    import ebm_tutorial as ebm
    import keras

    network = ebm.build_energy_network(arguments.activation, lipschitz_bound=arguments.lipschitz_bound or None)
    settings = ebm.TrainingSettings(chain_start=arguments.chain_start, langevin_steps=arguments.k,
                                    activation=arguments.activation, lipschitz_bound=arguments.lipschitz_bound or None)
    if arguments.xla_langevin:
        model = xla_langevin_model(ebm, network, settings)
    else:
        model = ebm.ContrastiveEnergyNetwork(network, settings)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), run_eagerly=run_eagerly,
                  jit_compile=arguments.jit_compile and not run_eagerly,
                  steps_per_execution=1 if run_eagerly else arguments.steps_per_execution)
    return model


def one_build(arguments):
    """Time one fresh build in this process (compiled, then eager unless --eager-steps 0)."""
    import numpy as np
    from ebm_tutorial.artifacts import import_tensorflow

    keras, tf = import_tensorflow()  # first, so that TensorFlow's start-up notes stay out of the measurement's output

    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).uniform(-1, 1, (4096, 28, 28)).astype("float32")
    compiled, whole_fit, after_last_batch = milliseconds_per_step(build(arguments, False), images, arguments.batch_size,
                                                                  arguments.steps, 10, arguments.tfdata_autotune,
                                                                  arguments.steps_per_execution)
    eager = None
    if arguments.eager_steps:
        eager = milliseconds_per_step(build(arguments, True), images, arguments.batch_size, arguments.eager_steps, 2)[0]
    return {"ms_per_step_compiled": round(compiled, 2), "ms_per_step_whole_fit": round(whole_fit, 2),
            "ms_after_last_batch": round(after_last_batch, 1),
            "ms_per_step_eager": None if eager is None else round(eager, 2),
            "speedup_over_eager": None if eager is None else round(eager / compiled, 1),
            "samples_per_s": round(1000 * arguments.batch_size / compiled, 1), "tensorflow": tf.__version__}


def run_json(command):
    """Run a command that writes a JSON file given as its last argument; return that JSON."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "result.json"
        subprocess.run([*command, str(output)], check=True, stdout=subprocess.DEVNULL)
        return json.loads(output.read_text())


def alternating_builds(arguments):
    """--builds fresh processes of this tool, each followed by the PyTorch loop when --pytorch."""
    single = [sys.executable, __file__, "--builds", "1", "--batch-size", str(arguments.batch_size), "--k", str(arguments.k),
              "--chain-start", arguments.chain_start, "--activation", arguments.activation,
              "--lipschitz-bound", str(arguments.lipschitz_bound), "--steps", str(arguments.steps),
              "--eager-steps", "0", "--steps-per-execution", str(arguments.steps_per_execution),
              *(["--tfdata-autotune"] if arguments.tfdata_autotune else []),
              *(["--jit-compile"] if arguments.jit_compile else []),
              *(["--xla-langevin"] if arguments.xla_langevin else []), "--output"]
    torch = [sys.executable, str(TOOLS / "benchmark_pytorch_reference.py"), "--batch-size", str(arguments.batch_size),
             "--k", str(arguments.k), "--activation", arguments.activation, "--lipschitz-bound", str(arguments.lipschitz_bound),
             "--steps", str(arguments.steps), "--repeats", "1", "--output"]
    ours, whole_fits, lumps, theirs = [], [], [], []
    for index in range(arguments.builds):
        build_result = run_json(single)
        ours.append(build_result["ms_per_step_compiled"])
        whole_fits.append(build_result["ms_per_step_whole_fit"])
        lumps.append(build_result["ms_after_last_batch"])
        line = (f"build {index + 1}/{arguments.builds}: ours {ours[-1]:6.1f} ms per step (median), whole fit "
                f"{whole_fits[-1]:6.1f} ms per step, {lumps[-1]:6.0f} ms after the last batch")
        if arguments.pytorch:
            theirs.append(run_json(torch)["ms_per_step"])
            line += f"   PyTorch {theirs[-1]:6.1f} ms"
        print(line, flush=True)
    median = statistics.median(ours)
    result = {"ms_per_step_each_build": ours, "ms_per_step_median": round(median, 2),
              "slowest_over_median": round(max(ours) / median, 2), "ms_per_step_whole_fit_each_build": whole_fits,
              "ms_after_last_batch_each_build": lumps}
    if theirs:
        result |= {"pytorch_ms_per_step_each_run": theirs, "pytorch_ms_per_step_median": statistics.median(theirs),
                   "torch_ms_over_ours": round(statistics.median(theirs) / median, 2)}
    return result


def main():
    # atomic writes; it loads no TensorFlow into this parent process; imported first: a wrong folder fails before timing
    from ebm_tutorial.artifacts import save_json

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--k", type=int, default=3, help="Langevin steps per training step")
    parser.add_argument("--chain-start", default="noise", choices=("noise", "persistent", "data"))
    parser.add_argument("--activation", default="swish")
    parser.add_argument("--lipschitz-bound", type=float, default=10.0,
                        help="spectral normalisation bound, as notebook 03's reference run (0: plain MLP)")
    parser.add_argument("--steps", type=int, default=100, help="timed compiled steps")
    parser.add_argument("--eager-steps", type=int, default=20, help="timed eager steps (0: skip eager)")
    parser.add_argument("--jit-compile", action="store_true", help="compile the step with XLA")
    parser.add_argument("--xla-langevin", action="store_true",
                        help="the Langevin loop compiled by XLA, its noise drawn before it (chains from noise only)")
    parser.add_argument("--steps-per-execution", type=int, default=1,
                        help="training steps per compiled call (--steps and the warm-up of 10 steps are rounded up to "
                             "whole calls by Keras)")
    parser.add_argument("--builds", type=int, default=1, help="fresh builds, each in its own process")
    parser.add_argument("--tfdata-autotune", action="store_true",
                        help="leave tf.data's autotuning on (its shutdown adds ~2 s after the last batch of fit)")
    parser.add_argument("--pytorch", action="store_true", help="run the PyTorch loop after every build (needs torch)")
    parser.add_argument("--output", type=Path, default=TOOLS.parent / "data" / "benchmark_train_step.json")
    arguments = parser.parse_args()
    if arguments.xla_langevin and arguments.chain_start != "noise":
        parser.error("--xla-langevin measures chains from noise only (--chain-start noise)")
    if arguments.xla_langevin:
        arguments.eager_steps = 0  # its loop stays compiled by XLA under run_eagerly: no eager number to report

    if arguments.builds > 1 or arguments.pytorch:
        result = alternating_builds(arguments)
    else:
        result = one_build(arguments)
    result |= {"batch_size": arguments.batch_size, "k": arguments.k, "chain_start": arguments.chain_start,
               "activation": arguments.activation, "lipschitz_bound": arguments.lipschitz_bound,
               "jit_compile": arguments.jit_compile, "xla_langevin": arguments.xla_langevin,
               "steps_per_execution": arguments.steps_per_execution,
               "cpu_count": os.cpu_count(), "machine": platform.machine()}
    save_json(arguments.output, result)
    if arguments.builds == 1 and not arguments.pytorch:
        print(json.dumps(result, indent=1))
    else:
        print(json.dumps({key: result[key] for key in result if "median" in key or "over" in key}, indent=1))


if __name__ == "__main__":
    main()
