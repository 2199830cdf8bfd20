"""Benchmark of the real training step of notebook 03 (ContrastiveEnergyNetwork.train_step), compiled vs eager.

    python tools/benchmark_train_step.py                      # batch 128, k=3, chains from noise, 03's network
    python tools/benchmark_train_step.py --lipschitz-bound 0  # the plain MLP (no spectral normalisation)
    python tools/benchmark_train_step.py --chain-start persistent --k 10 --steps-per-execution 8

Writes data/benchmark_train_step.json (or --output) with ms_per_step_compiled, ms_per_step_eager, batch_size, k and
samples_per_s. The same step runs in both modes; "eager" is `run_eagerly=True`, the way the Generative Deep Learning
book's notebook trains. Not a test: timings depend on the machine, so nothing here asserts a speed.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
import ebm_tutorial as ebm


def milliseconds_per_step(model, images, batch_size, steps, warmup):
    dataset = ebm.tf.data.Dataset.from_tensor_slices(images).repeat().batch(batch_size, drop_remainder=True)
    model.fit(dataset, steps_per_epoch=warmup, epochs=1, verbose=0)  # traces and compiles the step
    started = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return 1000 * (time.perf_counter() - started) / steps


def build(arguments, run_eagerly):
    network = ebm.build_energy_network(arguments.activation, lipschitz_bound=arguments.lipschitz_bound or None)
    settings = ebm.TrainingSettings(chain_start=arguments.chain_start, langevin_steps=arguments.k,
                                    activation=arguments.activation, lipschitz_bound=arguments.lipschitz_bound or None)
    model = ebm.ContrastiveEnergyNetwork(network, settings)
    model.compile(optimizer=ebm.keras.optimizers.Adam(1e-4), run_eagerly=run_eagerly,
                  jit_compile=arguments.jit_compile and not run_eagerly,
                  steps_per_execution=1 if run_eagerly else arguments.steps_per_execution)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--k", type=int, default=3, help="Langevin steps per training step")
    parser.add_argument("--chain-start", default="noise", choices=ebm.TrainingSettings.CHAIN_STARTS)
    parser.add_argument("--activation", default="swish")
    parser.add_argument("--lipschitz-bound", type=float, default=10.0,
                        help="spectral normalisation bound, as notebook 03's reference run (0: plain MLP)")
    parser.add_argument("--steps", type=int, default=100, help="timed compiled steps")
    parser.add_argument("--eager-steps", type=int, default=20, help="timed eager steps (0: skip eager)")
    parser.add_argument("--jit-compile", action="store_true", help="compile the step with XLA")
    parser.add_argument("--steps-per-execution", type=int, default=1, help="training steps per compiled call")
    parser.add_argument("--output", type=Path, default=ebm.DATA_DIR / "benchmark_train_step.json")
    arguments = parser.parse_args()

    ebm.keras.utils.set_random_seed(0)
    images = ebm.np.random.default_rng(0).uniform(-1, 1, (4096, 28, 28)).astype("float32")
    compiled = milliseconds_per_step(build(arguments, False), images, arguments.batch_size, arguments.steps, 10)
    eager = None
    if arguments.eager_steps:
        eager = milliseconds_per_step(build(arguments, True), images, arguments.batch_size, arguments.eager_steps, 2)
    result = {
        "ms_per_step_compiled": round(compiled, 2),
        "ms_per_step_eager": None if eager is None else round(eager, 2),
        "speedup_over_eager": None if eager is None else round(eager / compiled, 1),
        "batch_size": arguments.batch_size,
        "k": arguments.k,
        "samples_per_s": round(1000 * arguments.batch_size / compiled, 1),
        "chain_start": arguments.chain_start,
        "activation": arguments.activation,
        "lipschitz_bound": arguments.lipschitz_bound,
        "jit_compile": arguments.jit_compile,
        "steps_per_execution": arguments.steps_per_execution,
        "tensorflow": ebm.tf.__version__,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
    }
    ebm.save_json(arguments.output, result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
