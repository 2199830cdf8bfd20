"""The PyTorch loop that issue 3 compares notebook 03's training step with, to time both on the same machine.

    pip install torch --index-url https://download.pytorch.org/whl/cpu   # optional, not in requirements.txt
    python tools/benchmark_pytorch_reference.py                          # plain MLP, as the issue's 17.3 ms
    python tools/benchmark_pytorch_reference.py --lipschitz-bound 10     # notebook 03's network

The same CD step as `ContrastiveEnergyNetwork.train_step` with chains from noise: MLP 784-512-256-128-1 with swish
(SiLU), k Langevin steps x <- clip(x - (eps/2) clip(grad E, -c, c) + sigma z, -1, 1), then one Adam step on
mean E(data) - mean E(negatives) + alpha mean(E(data)^2 + E(negatives)^2). Run it right after
tools/benchmark_train_step.py: this shared 2-core machine varies by about 20% between sessions, so only timings taken
together compare. Writes data/benchmark_pytorch_reference.json (or --output). Not a test.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))  # ebm_tutorial.artifacts: no TensorFlow
from ebm_tutorial.artifacts import register

register(
    "benchmark_pytorch_reference.json", "tools/benchmark_pytorch_reference.py", read_by="—",
    contents="ms per step of the same CD step written in PyTorch (optional; needs `torch`)",
)


def build_network(torch, lipschitz_bound, activation="swish"):
    """The energy MLP and E(x) = scale * MLP(x); spectral norm on every layer when a bound is given."""
    layers = []
    for fan_in, fan_out in [(784, 512), (512, 256), (256, 128), (128, 1)]:
        layer = torch.nn.Linear(fan_in, fan_out)
        if lipschitz_bound:
            layer = torch.nn.utils.parametrizations.spectral_norm(layer)
        layers += [layer, torch.nn.ReLU() if activation == "relu" else torch.nn.SiLU()]
    network = torch.nn.Sequential(torch.nn.Flatten(), *layers[:-1])  # no activation after the last layer
    scale = lipschitz_bound or 1.0
    return network, lambda x: scale * network(x)


def main():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
    # atomic writes, and no TensorFlow in this process; imported first, so that a wrong folder fails before timing
    from ebm_tutorial.artifacts import save_json

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--k", type=int, default=3, help="Langevin steps per training step")
    parser.add_argument("--activation", default="swish", choices=("swish", "relu"))
    parser.add_argument("--lipschitz-bound", type=float, default=0.0, help="0: plain MLP, as the issue measured")
    parser.add_argument("--steps", type=int, default=100, help="timed steps")
    parser.add_argument("--repeats", type=int, default=3, help="timed blocks; the fastest is reported")
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).resolve().parents[1] / "data" / "benchmark_pytorch_reference.json")
    arguments = parser.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("This optional benchmark needs PyTorch: pip install torch --index-url "
                 "https://download.pytorch.org/whl/cpu")

    torch.manual_seed(0)
    network, energy = build_network(torch, arguments.lipschitz_bound, arguments.activation)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-4)
    step_size, noise_scale, gradient_clip, alpha = 20.0, 0.005, 0.03, 0.1
    images = torch.rand(4096, 28, 28) * 2 - 1
    batches = images.split(arguments.batch_size)

    def train_step(data):
        negatives = torch.rand_like(data) * 2 - 1
        network.eval()  # spectral norm: no power iteration inside the sampler, as Keras with training=False
        for _ in range(arguments.k):
            negatives.requires_grad_(True)
            gradient, = torch.autograd.grad(energy(negatives).sum(), negatives)
            with torch.no_grad():
                negatives = negatives - 0.5 * step_size * gradient.clamp(-gradient_clip, gradient_clip)
                negatives = (negatives + noise_scale * torch.randn_like(negatives)).clamp(-1, 1)
        network.train()
        energies = energy(torch.cat([data, negatives.detach()])).squeeze(-1)
        energy_data, energy_negatives = energies.chunk(2)
        loss = energy_data.mean() - energy_negatives.mean() + alpha * (energy_data**2 + energy_negatives**2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for index in range(10):  # warm-up
        train_step(batches[index % len(batches)])
    timings = []
    for _ in range(arguments.repeats):
        started = time.perf_counter()
        for index in range(arguments.steps):
            train_step(batches[index % len(batches)])
        timings.append(1000 * (time.perf_counter() - started) / arguments.steps)
    result = {"ms_per_step": round(min(timings), 2), "ms_per_step_all_repeats": [round(t, 2) for t in timings],
              "batch_size": arguments.batch_size, "k": arguments.k, "activation": arguments.activation, "lipschitz_bound": arguments.lipschitz_bound,
              "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}
    save_json(arguments.output, result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
