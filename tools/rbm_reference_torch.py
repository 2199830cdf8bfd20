"""The re-implementation behind notebook 10's appendix: the same RBMs, data and AIS in PyTorch, run long on a GPU.

    pip install torch                                 # optional, not in requirements.txt (a CUDA build for a GPU)
    python tools/rbm_reference_torch.py --quick       # every part at toy sizes (8.4 min on 2 CPU cores shared with
                                                      # a training; the AIS loop of Python steps dominates)
    python tools/rbm_reference_torch.py               # the appendix's tables on a GPU
    python tools/rbm_reference_torch.py --reestimate data/rbm_parameters.npz   # also re-estimate notebook 10's RBMs

Reads data/mnist_prepared.npz (notebook 01) and binarises it exactly as notebook 10 does (numpy default_rng(0):
training digits, then test digits). Trains stacks of RBMs side by side (one tensor per stack; each member draws its
own initial weights), batches of 100 reshuffled every epoch, SGD with momentum and weight decay, CD-k or PCD, and
estimates log Z by AIS in float64 with Salakhutdinov & Murray's schedule (14,500 distributions) and 1,000 runs.

1. AIS against the exact log Z of an enumerable 20-hidden RBM (three AIS seeds).
2. With --reestimate: AIS (two seeds; and 145,000 distributions) on the RBMs of a notebook-10 parameter file.
3. Six CD-1 variants trained 400 epochs: the learning rate, weight decay, negatives as probabilities, momentum.
4. CD-1 at other rates and initialisations (150 epochs), CD-3 at two rates, PCD at two decaying rates (100 epochs).

Writes data/rbm_reference_torch.json (or --output). The appendix's numbers come from the two probe scripts this file
merges, with the same stacks, seeds and variants, run on one NVIDIA H200: 8.6 min together, about 7.5 min of it
without the re-estimation (parts 1, 3 and 4). GPU kernels are not bitwise deterministic: a re-run agrees with the
appendix to within the AIS noise it prints, not to the last digit. On a 2-core CPU the full run would take about a
day (estimated from notebook 10's epoch times, not run). Not a test.
"""

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "notebooks"))
from ebm_tutorial.artifacts import register

register(
    "rbm_reference_torch.json", "tools/rbm_reference_torch.py", read_by="—",
    contents="notebook 10's appendix re-run in PyTorch (optional; needs `torch`, a GPU for the full run): AIS "
             "against exact on a 20-hidden RBM, and per variant and kept epoch AIS log Z with its ±3σ interval, "
             "test and training log-likelihoods",
)

AIS_SCHEDULE = ((0.5, 1e-3), (0.9, 1e-4), (1.0, 1e-5))  # notebook 10's AIS_STEP_SIZES
SGD_AT_0_05 = {"lr": 0.05, "momentum0": 0.9, "momentum": 0.9, "momentum_after": 0, "wd_decoupled": 2e-4, "wd_l2": 0.0,
               "negatives": "sample", "decay_epochs": None}  # notebook 10's SGD at run 3's rate


def log(*parts):
    print(*parts, flush=True)


def binarised_mnist(path, torch, device):
    """Notebook 10's stochastic binarisation (default_rng(0), training then test digits), as float32 tensors."""
    if not path.exists():
        sys.exit(f"{path} is missing: run notebooks/01_data_preparation.ipynb first.")
    mnist = np.load(path)
    rng = np.random.default_rng(0)
    intensities = [((np.concatenate(parts).reshape(-1, 784) + 1) / 2).astype(np.float32)
                   for parts in ([mnist["x_train"], mnist["x_validation"]], [mnist["x_test"]])]
    return [torch.tensor((rng.random(x.shape) < x).astype(np.float32), device=device) for x in intensities]


def ais_betas(coarsening=1.0):
    pieces, start = [], 0.0
    for end, step in AIS_SCHEDULE:
        pieces.append(np.linspace(start, end, max(1, round((end - start) / (step * coarsening))) + 1)[:-1])
        start = end
    return np.concatenate([*pieces, [1.0]])


class Reference:
    def __init__(self, torch, device, train, test):
        self.torch, self.device, self.train, self.test = torch, device, train, test
        on = (train.sum(0).double() + 1) / (len(train) + 2)
        self.base_bias = torch.log(on / (1 - on))  # float64: the independent-pixel model AIS starts from

    def ais(self, kernel, visible_bias, hidden_bias, betas, runs, seed=0):
        """AIS for a stack of RBMs (kernel (C, V, H)) in float64: log Z, its +-3 sigma interval, and log w."""
        torch, device = self.torch, self.device
        generator = torch.Generator(device=device).manual_seed(seed)
        kernel, visible_bias, hidden_bias = kernel.double(), visible_bias.double(), hidden_bias.double()
        count, visible, hidden = kernel.shape
        base = self.base_bias.view(1, 1, visible)
        betas = torch.tensor(betas, dtype=torch.float64, device=device)

        def uniform(shape):
            return torch.rand(shape, generator=generator, device=device, dtype=torch.float64)

        v = (uniform((count, runs, visible)) < torch.sigmoid(base)).double()
        log_w = torch.zeros((count, runs), dtype=torch.float64, device=device)
        visible_bias, hidden_bias = visible_bias.view(count, 1, visible), hidden_bias.view(count, 1, hidden)
        softplus = torch.nn.functional.softplus
        for k in range(1, len(betas)):
            before, after = betas[k - 1], betas[k]
            hidden_inputs = v @ kernel + hidden_bias
            log_w += ((after - before) * (v * (visible_bias - base)).sum(-1)
                      + (softplus(after * hidden_inputs) - softplus(before * hidden_inputs)).sum(-1))
            h = (uniform(hidden_inputs.shape) < torch.sigmoid(after * hidden_inputs)).double()
            visible_inputs = (1 - after) * base + after * (h @ kernel.transpose(1, 2) + visible_bias)
            v = (uniform(visible_inputs.shape) < torch.sigmoid(visible_inputs)).double()
        log_z_base = softplus(self.base_bias).sum() + hidden * math.log(2)  # at beta = 0 the hidden units are coins
        shift = log_w.max(1, keepdim=True).values
        weights = torch.exp(log_w - shift)
        mean, spread = weights.mean(1), 3 * weights.std(1) / math.sqrt(runs)
        offset = log_z_base + shift[:, 0]
        return [value.cpu().numpy() for value in (offset + torch.log(mean),
                                                  offset + torch.log(torch.clamp(mean - spread, min=1e-300)),
                                                  offset + torch.log(mean + spread), log_w)]

    def mean_log_likelihood(self, kernel, visible_bias, hidden_bias, images, log_z):
        kernel, visible_bias, hidden_bias, images = (x.double() for x in (kernel, visible_bias, hidden_bias, images))
        free_energy = (-(images @ visible_bias.T).T
                       - self.torch.nn.functional.softplus(images.unsqueeze(0) @ kernel
                                                           + hidden_bias.unsqueeze(1)).sum(-1))
        return -free_energy.mean(1).cpu().numpy() - log_z

    def exact_log_z(self, kernel, visible_bias, hidden_bias):
        """log Z of one small RBM by enumerating its hidden states (float64)."""
        torch = self.torch
        kernel, visible_bias, hidden_bias = kernel.double(), visible_bias.double(), hidden_bias.double()
        hidden, terms = kernel.shape[1], []
        for first in range(0, 2**hidden, 2**14):
            index = torch.arange(first, min(first + 2**14, 2**hidden), device=self.device)
            states = ((index[:, None] >> torch.arange(hidden, device=self.device)) & 1).double()
            terms.append(states @ hidden_bias + torch.nn.functional.softplus(states @ kernel.T + visible_bias).sum(1))
        return float(torch.logsumexp(torch.cat(terms), 0))

    def train_stack(self, configs, hidden, epochs, checkpoints, seed, gibbs_steps=1, persistent=False):
        """Train len(configs) RBMs side by side; returns {epoch: (kernel, visible_bias, hidden_bias)}.
        A config: lr, momentum0 (until epoch momentum_after), momentum, wd_decoupled (as Keras' weight_decay),
        wd_l2 (added to the gradient), negatives ("sample" or "prob"), decay_epochs (linear decay to 0, or None)."""
        torch, device, train = self.torch, self.device, self.train
        generator = torch.Generator(device=device).manual_seed(seed)
        count, visible, batch = len(configs), train.shape[1], 100
        kernel = 0.01 * torch.randn((count, visible, hidden), generator=generator, device=device)
        visible_bias = self.base_bias.float().repeat(count, 1).clone()
        hidden_bias = torch.zeros((count, hidden), device=device)
        velocities = [torch.zeros_like(x) for x in (kernel, visible_bias, hidden_bias)]

        def column(key):
            return torch.tensor([float(config[key]) for config in configs], device=device)

        rate, decoupled_decay, l2_decay = column("lr"), column("wd_decoupled"), column("wd_l2")
        probabilities_as_negatives = torch.tensor([c["negatives"] == "prob" for c in configs],
                                                  device=device).view(-1, 1, 1)
        chains = train[torch.randperm(len(train), generator=generator, device=device)[:batch]].unsqueeze(0).repeat(
            count, 1, 1)
        updates_per_epoch, saved, started = len(train) // batch, {}, time.perf_counter()

        def bernoulli(p):
            return (torch.rand(p.shape, generator=generator, device=device) < p).float()

        for epoch in range(1, epochs + 1):
            momentum = torch.tensor([c["momentum"] if epoch > c["momentum_after"] else c["momentum0"] for c in configs],
                                    device=device)
            order = torch.randperm(len(train), generator=generator, device=device)
            for update in range(updates_per_epoch):
                step = (epoch - 1) * updates_per_epoch + update
                decay = torch.tensor([max(0.0, 1 - step / (c["decay_epochs"] * updates_per_epoch))
                                      if c["decay_epochs"] else 1.0 for c in configs], device=device)
                learning_rate = rate * decay
                data = train[order[update * batch:(update + 1) * batch]]
                hidden_data = torch.sigmoid(data @ kernel + hidden_bias.unsqueeze(1))
                h = bernoulli(torch.sigmoid(chains @ kernel + hidden_bias.unsqueeze(1)) if persistent else hidden_data)
                for sweep in range(gibbs_steps):
                    visible_probabilities = torch.sigmoid(h @ kernel.transpose(1, 2) + visible_bias.unsqueeze(1))
                    visible_sample = bernoulli(visible_probabilities)
                    negatives = torch.where(probabilities_as_negatives, visible_probabilities, visible_sample)
                    hidden_negatives = torch.sigmoid(negatives @ kernel + hidden_bias.unsqueeze(1))
                    if sweep < gibbs_steps - 1:
                        h = bernoulli(hidden_negatives)
                if persistent:
                    chains = visible_sample
                gradients = (-(data.T.unsqueeze(0) @ hidden_data
                               - negatives.transpose(1, 2) @ hidden_negatives) / batch,
                             -(data.mean(0).unsqueeze(0) - negatives.mean(1)),
                             -(hidden_data.mean(1) - hidden_negatives.mean(1)))  # of mean F(data) - mean F(negatives)
                kernel -= (learning_rate * decoupled_decay).view(-1, 1, 1) * kernel
                gradients = (gradients[0] + l2_decay.view(-1, 1, 1) * kernel, *gradients[1:])
                for weight, velocity, gradient in zip((kernel, visible_bias, hidden_bias), velocities, gradients):
                    shape = (-1,) + (1,) * (weight.dim() - 1)
                    velocity.mul_(momentum.view(shape)).sub_(learning_rate.view(shape) * gradient)
                    weight += velocity
            if epoch in checkpoints:
                if device == "cuda":
                    torch.cuda.synchronize()
                saved[epoch] = (kernel.clone(), visible_bias.clone(), hidden_bias.clone())
                log(f"  epoch {epoch}: {time.perf_counter() - started:.0f} s of training")
        return saved

    def evaluate(self, label, weights, names, betas, runs, ais_seeds=(0,)):
        """AIS test and training log-likelihoods of a stack; also the spread of log Z over 100-run subsets."""
        rows = {}
        for seed in ais_seeds:
            started = time.perf_counter()
            log_z, low, high, log_w = self.ais(*weights, betas, runs, seed)
            test = self.mean_log_likelihood(*weights, self.test, log_z)
            train = self.mean_log_likelihood(*weights, self.train[:10000], log_z)
            for index, name in enumerate(names):
                full = np.logaddexp.reduce(log_w[index]) - np.log(len(log_w[index]))
                subsets = [float(np.logaddexp.reduce(part) - np.log(len(part)) - full)
                           for part in np.array_split(log_w[index][:1000], max(1, min(runs, 1000) // 100))]
                rows.setdefault(name, []).append({
                    "seed": seed, "log_z": float(log_z[index]), "low": float(low[index]), "high": float(high[index]),
                    "test_ll": float(test[index]), "train_ll": float(train[index]),
                    "subset100_log_z_minus_full": subsets})
                log(f"{label} {name:>28} AIS seed {seed}: log Z {log_z[index]:8.2f} [{low[index]:8.2f}, "
                    f"{high[index]:8.2f}]  test {test[index]:8.2f}  train {train[index]:8.2f}  100-run subsets "
                    f"{min(subsets):+.1f}..{max(subsets):+.1f}  ({time.perf_counter() - started:.1f} s)")
        return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="toy sizes: checks that every part runs")
    parser.add_argument("--reestimate", type=Path, help="a parameter file of notebook 10 (data/rbm_parameters.npz)")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "mnist_prepared.npz")
    parser.add_argument("--output", type=Path, default=ROOT / "data" / "rbm_reference_torch.json")
    arguments = parser.parse_args()
    if arguments.reestimate and not arguments.reestimate.exists():
        sys.exit(f"{arguments.reestimate} is missing: run notebooks/10_restricted_boltzmann_machines.ipynb first.")
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed: pip install torch (optional; see the top of this file).")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train, test = binarised_mnist(arguments.data, torch, device)
    quick = arguments.quick
    if quick:
        train, test = train[:2000], test[:500]
    reference = Reference(torch, device, train, test)
    betas, runs = ais_betas(50 if quick else 1), 100 if quick else 1000
    hidden = 64 if quick else 500
    output, started = {"device": device, "torch": torch.__version__, "quick": quick}, time.perf_counter()

    sys.path.insert(0, str(ROOT / "notebooks"))
    # atomic writes, and no TensorFlow next to PyTorch
    from ebm_tutorial.artifacts import save_json

    def save():  # after every part, atomically: an interrupted run keeps what it measured
        output["seconds"] = time.perf_counter() - started
        save_json(arguments.output, output)

    small_hidden, small_epochs = (10, 2) if quick else (20, 10)
    log(f"== 1. AIS against the exact log Z of a {small_hidden}-hidden RBM trained by CD-1 for {small_epochs} epochs")
    small = reference.train_stack([SGD_AT_0_05], small_hidden, small_epochs, {small_epochs}, seed=0)
    small_weights = next(iter(small.values()))
    exact = reference.exact_log_z(*(weight[0] for weight in small_weights))
    output["small"] = {"exact_log_z": exact, "ais": reference.evaluate("small", small_weights, ["small"], betas, runs,
                                                                        ais_seeds=(0, 1, 2))["small"]}
    log(f"exact log Z {exact:.4f}; AIS - exact: {[round(row['log_z'] - exact, 3) for row in output['small']['ais']]}")
    save()

    if arguments.reestimate:
        log(f"== 2. the RBMs of {arguments.reestimate}")
        parameters = np.load(arguments.reestimate)
        names = sorted(key.removesuffix("_kernel") for key in parameters if key.endswith("_kernel"))
        weights = tuple(torch.stack([torch.tensor(parameters[f"{name}_{part}"], device=device) for name in names])
                        for part in ("kernel", "visible_bias", "hidden_bias"))
        output["reestimated"] = {"file": str(arguments.reestimate), "14500": reference.evaluate(
            "14,500 distributions", weights, names, betas, runs, ais_seeds=(0, 1))}
        if not quick:
            output["reestimated"]["145000"] = reference.evaluate("145,000 distributions", weights, names,
                                                                 ais_betas(0.1), runs)
        save()

    variant_epochs = 4 if quick else 400
    log(f"== 3. CD-1 variants, {hidden} hidden units, {variant_epochs} epochs")
    variants = {
        "rate 0.05 (notebook's then)": SGD_AT_0_05,
        "rate 0.05, probabilities": {**SGD_AT_0_05, "negatives": "prob"},
        "rate 0.01": {**SGD_AT_0_05, "lr": 0.01},
        "rate 0.1, momentum .5/.9, L2": {"lr": 0.1, "momentum0": 0.5, "momentum": 0.9, "momentum_after": 5,
                                         "wd_decoupled": 0.0, "wd_l2": 2e-4, "negatives": "prob", "decay_epochs": None},
        "rate 0.05 decaying to 0": {**SGD_AT_0_05, "decay_epochs": variant_epochs},
        "rate 0.05, no weight decay": {**SGD_AT_0_05, "wd_decoupled": 0.0},
    }
    checkpoints = {2, 4} if quick else {15, 25, 50, 100, 150, 200, 300, 400}
    saved = reference.train_stack(list(variants.values()), hidden, variant_epochs, checkpoints, seed=0)
    output["cd1_variants"] = {"configs": variants, "by_epoch": {
        epoch: reference.evaluate(f"epoch {epoch:3d}", weights, list(variants), betas, runs)
        for epoch, weights in sorted(saved.items())}}
    save()

    decay_epochs = 3 if quick else 100
    stacks = [  # name, seed, Gibbs steps, persistent, epochs, checkpoints, variants
        ("CD-1", 1, 1, False, 3 if quick else 150, {1, 3} if quick else {50, 100, 150}, {
            "CD-1 rate 0.01, init A": {**SGD_AT_0_05, "lr": 0.01},
            "CD-1 rate 0.01, init B": {**SGD_AT_0_05, "lr": 0.01},
            "CD-1 rate 0.005": {**SGD_AT_0_05, "lr": 0.005}, "CD-1 rate 0.02": {**SGD_AT_0_05, "lr": 0.02}}),
        ("CD-3", 4, 3, False, 3 if quick else 100, {1, 3} if quick else {10, 50, 100}, {
            "CD-3 rate 0.05": SGD_AT_0_05, "CD-3 rate 0.01": {**SGD_AT_0_05, "lr": 0.01}}),
        ("PCD", 7, 1, True, 3 if quick else 100, {1, 3} if quick else {20, 50, 100}, {
            "PCD rate 0.01 -> 0": {**SGD_AT_0_05, "lr": 0.01, "decay_epochs": decay_epochs},
            "PCD rate 0.003 -> 0": {**SGD_AT_0_05, "lr": 0.003, "decay_epochs": decay_epochs}}),
    ]
    output["stacks"] = {}
    for name, seed, gibbs_steps, persistent, epochs, checkpoints, stack in stacks:
        log(f"== 4. {name}: {epochs} epochs")
        saved = reference.train_stack(list(stack.values()), hidden, epochs, checkpoints, seed, gibbs_steps, persistent)
        output["stacks"][name] = {"configs": stack, "by_epoch": {
            epoch: reference.evaluate(f"{name} epoch {epoch:3d}", weights, list(stack), betas, runs)
            for epoch, weights in sorted(saved.items())}}
        save()
    log(f"total {time.perf_counter() - started:.0f} s; wrote {arguments.output}")


if __name__ == "__main__":
    main()
